"""Read-only facts about a functional graph, computed once per analysis."""

import collections

from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.graph import registry


class GraphIndex:
    """Nodes of a functional graph and who reads what.

    Attributes:
        nodes: Call nodes in topological order.
        readers: `id(tensor)` -> nodes that read it.
        calls: `id(layer)` -> number of calls.
        calls_of: `id(layer)` -> its call nodes, in order.
        outputs: `id`s of the model's output tensors.
        layers: Layer name -> layer.
    """

    def __init__(self, fn):
        self.nodes = nodes_lib.ordered_nodes(fn)
        self.readers = nodes_lib.consumers_by_tensor(self.nodes)
        self.calls = nodes_lib.call_counts(self.nodes)
        self.calls_of = collections.defaultdict(list)
        for node in self.nodes:
            self.calls_of[id(node.operation)].append(node)
        self.outputs = {id(t) for t in fn.outputs}
        self.layers = {n.operation.name: n.operation for n in self.nodes}
        self._call_of_tensor = {}  # id(tensor) -> call position of its node
        self._producer = {}  # id(tensor) -> the node that computes it
        for calls in self.calls_of.values():
            for position, node in enumerate(calls):
                for t in node.outputs:
                    self._call_of_tensor[id(t)] = position
                    self._producer[id(t)] = node

    def tensor_key(self, tensor):
        """The tensor's key (`nodes.tensor_key`), numbered by the calls of
        its layer in this graph."""
        return nodes_lib.tensor_key(tensor, self.call_of(tensor))

    def root(self, tensor):
        """The tensor behind `tensor` through layers that pass values on
        as they are or per channel (identities, BatchNormalization): two
        inputs with the same root are the same site's activation."""
        node = self._producer.get(id(tensor))
        while node is not None and registry.kind_of(node.operation).role in (
            "identity",
            "norm",
        ):
            tensor = node.input_tensors[0]
            node = self._producer.get(id(tensor))
        return id(tensor)

    def call_of(self, tensor):
        """Which call of its layer in this graph produced `tensor` (0 for
        model inputs)."""
        return self._call_of_tensor.get(id(tensor), 0)

    def single_reader(self, tensor):
        """The one node reading `tensor`, or `None` (several readers, none,
        or the tensor is a model output)."""
        readers = self.readers.get(id(tensor), [])
        if len(readers) != 1 or id(tensor) in self.outputs:
            return None
        return readers[0]

    def calls_of_layer(self, layer):
        """Number of calls of `layer` in the graph."""
        return self.calls[id(layer)]
