"""Finds the fold sites of a functional graph.

A site is `Dense` -> ReLU (inline `activation="relu"`, a `ReLU()` layer with
default arguments, or `Activation("relu")`) -> one or more `Dense`
consumers, possibly through layers that are the identity at inference
(`Dropout` and friends). Every other `Dense` followed by an activation is a
*candidate* that is rejected with a reason the report shows.

`find_sites` returns a Keras-free `GraphSpec` for the planner plus the Keras
objects (`SiteBinding`) that measurement and rebuild need.
"""

import dataclasses

import keras

from keras_linprune import activations as activations_lib
from keras_linprune import graph as graph_lib
from keras_linprune.spec import GraphSpec, LinearSpec, Rejection, SiteSpec

#: Layers that are the identity at inference time.
IDENTITY_LAYERS = (
    keras.layers.Dropout,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Identity,
)

_LINEAR = keras.activations.linear

#: Layer types that rebuild understands; anything else is copied unchanged
#: and named in the report.
_KNOWN = (keras.layers.InputLayer, keras.layers.Dense) + (
    activations_lib.ACTIVATION_LAYERS + IDENTITY_LAYERS
)


@dataclasses.dataclass(frozen=True)
class SiteBinding:
    """Keras objects of one site.

    Attributes:
        tensor: The activation's output (the source of shortcuts in
            chains).
        measured: The tensor whose pieces are counted: the activation's
            input `z` for an activation layer, its output for an inline
            activation.
        on_output: Whether `measured` is the activation's output.
        producer: The producer `Dense` layer.
        activation_layer: The separate activation layer, or `None`.
    """

    tensor: object
    measured: object
    on_output: bool
    producer: object
    activation_layer: object = None


@dataclasses.dataclass(frozen=True)
class FoundSites:
    """Result of `find_sites`.

    Attributes:
        spec: Keras-free `GraphSpec` for the planner.
        bindings: Mapping from site key to `SiteBinding`.
        unchanged: `(layer name, class name)` of layers the engine does not
            understand; they are copied unchanged.
    """

    spec: GraphSpec
    bindings: dict
    unchanged: tuple


def is_plain_dense(layer):
    """A built-in, unquantized `Dense` without LoRA."""
    return (
        type(layer) is keras.layers.Dense
        and getattr(layer, "quantization_mode", None) is None
        and not getattr(layer, "lora_enabled", False)
    )


def find_sites(fn):
    """Describes the fold sites of the functional model `fn`.

    Args:
        fn: A functional `keras.Model` (see `graph.functional_graph`).

    Returns:
        A `FoundSites`.

    Example:

    >>> import keras
    >>> x = keras.Input((4,))
    >>> h = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    >>> y = keras.layers.Dense(1, name="out")(h)
    >>> found = find_sites(keras.Model(x, y))
    >>> [(s.name, s.consumers) for s in found.spec.sites]
    [('hidden', ('out',))]
    """
    finder = _Finder(fn)
    for node in finder.nodes:
        if is_plain_dense(node.operation):
            finder.visit_dense(node)
    spec = GraphSpec(
        linears=finder.linears,
        sites=tuple(finder.sites),
        rejected=tuple(finder.rejected),
        total_params=int(fn.count_params()),
    )
    unchanged = tuple(
        (node.operation.name, type(node.operation).__name__)
        for node in finder.nodes
        if not isinstance(node.operation, _KNOWN)
    )
    return FoundSites(spec, finder.bindings, unchanged)


class _Finder:
    def __init__(self, fn):
        self.nodes = graph_lib.ordered_nodes(fn)
        self.consumers = graph_lib.consumers_by_tensor(self.nodes)
        self.calls = graph_lib.call_counts(self.nodes)
        self.outputs = {id(t) for t in fn.outputs}
        self.canonical = {}  # id(tensor) -> site key, through identities
        self.linears = {}
        self.sites = []
        self.rejected = []
        self.bindings = {}

    def visit_dense(self, node):
        layer = node.operation
        found = self._activation_of(node)
        if found is None:
            return
        tensor, measured, act_layer, activation = found
        key = graph_lib.tensor_key(tensor)
        width = int(layer.units)
        problem = activation if isinstance(activation, str) else None
        if problem is None and id(tensor) in self.outputs:
            problem = "its activation is a model output"
        if problem is None and self.calls[id(layer)] > 1:
            problem = (
                f"layer '{layer.name}' is shared (called "
                f"{self.calls[id(layer)]} times)"
            )
        if problem is None and act_layer is not None and (
                self.calls[id(act_layer)] > 1):
            problem = f"activation layer '{act_layer.name}' is shared"
        consumers, identities = [], []
        if problem is None:
            consumers, identities, problem = self._consumers_of(tensor)
        if problem is not None:
            self.rejected.append(Rejection(key, layer.name, width, problem))
            return
        self._add_linear(node)
        for consumer in consumers:
            self._add_linear(consumer, source=key)
        for t in identities:
            self.canonical[id(t)] = key
        self.canonical[id(tensor)] = key
        channel_params = 0
        if act_layer is not None and act_layer.count_params():
            channel_params = act_layer.count_params() // width
        self.sites.append(SiteSpec(
            key, layer.name, tuple(c.operation.name for c in consumers),
            width, activation, channel_params,
        ))
        self.bindings[key] = SiteBinding(
            tensor, measured, act_layer is None, layer, act_layer
        )

    def _activation_of(self, node):
        """`(output, measured, layer or None, Activation or reason)`.

        `None` when the `Dense` is not followed by an activation.
        """
        layer = node.operation
        out = node.outputs[0]
        units = int(layer.units)
        if layer.activation is not _LINEAR:
            act = activations_lib.describe_function(layer.activation,
                                                    on_output=True)
            if not isinstance(act, str) and not act.monotone:
                act = (f"activation '{act.name}' cannot be measured on its "
                       "output; use an activation layer")
            return out, out, None, act
        readers = self.consumers.get(id(out), [])
        if len(readers) != 1 or id(out) in self.outputs:
            return None
        act_layer = readers[0].operation
        if not isinstance(act_layer, activations_lib.ACTIVATION_LAYERS):
            return None
        act = activations_lib.describe_layer(act_layer, units)
        return readers[0].outputs[0], out, act_layer, act

    def _consumers_of(self, tensor):
        """(consumer nodes, identity-layer outputs, problem or None)."""
        found, identities, frontier = [], [], [tensor]
        while frontier:
            t = frontier.pop(0)
            for node in self.consumers.get(id(t), []):
                layer = node.operation
                single = self.calls[id(layer)] == 1
                if isinstance(layer, IDENTITY_LAYERS) and single:
                    out = node.outputs[0]
                    if id(out) in self.outputs:
                        return [], [], "its activation is a model output"
                    identities.append(out)
                    frontier.append(out)
                elif is_plain_dense(layer) and single:
                    found.append(node)
                else:
                    kind = type(layer).__name__
                    why = "is shared" if not single else "is not a Dense layer"
                    return [], [], f"consumer '{layer.name}' ({kind}) {why}"
        if not found:
            return [], [], "its activation has no Dense consumer"
        return found, identities, None

    def _add_linear(self, node, source=None):
        layer = node.operation
        if layer.name in self.linears:
            return
        tensor = node.input_tensors[0]
        if source is None:
            source = self.canonical.get(id(tensor), graph_lib.tensor_key(tensor))
        self.linears[layer.name] = LinearSpec(
            layer.name, source, int(tensor.shape[-1]), int(layer.units),
            bool(layer.use_bias),
        )
