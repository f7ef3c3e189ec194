"""Inlines nested functional and Sequential models into one flat graph.

Fold sites inside a nested model (a block reused as a layer) become visible
once its layers are part of the outer graph. The flat graph is built from
copies of every layer (`graph.LayerCopier`), so the user's model is never
touched; inner layers are named `"<submodel>.<layer>"` so they stay
recognisable in the report and the compressed model.
"""

import keras

from keras_linprune import graph as graph_lib


def _inlinable(layer, calls):
    return (isinstance(layer, keras.Model) and calls == 1
            and (isinstance(layer, keras.Sequential)
                 or hasattr(layer, "_nodes_by_depth")))


def flatten(fn):
    """`fn` itself when it has no nested model, else a flat equivalent.

    Nested models called more than once, and subclassed ones, are kept as
    single layers.

    Example:

    >>> import keras
    >>> block = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)],
    ...                          name="block")
    >>> x = keras.Input((4,))
    >>> flat = flatten(keras.Model(x, block(x)))
    >>> [layer.name for layer in flat.layers[1:]]
    ['block.dense']
    """
    nodes = graph_lib.ordered_nodes(fn)
    calls = graph_lib.call_counts(nodes)
    if not any(_inlinable(n.operation, calls[id(n.operation)]) for n in nodes):
        return fn
    tensors = {}
    new_inputs = []
    for t in fn.inputs:
        new = keras.Input(batch_shape=t.shape, dtype=t.dtype, sparse=t.sparse,
                          name=t._keras_history.operation.name)
        tensors[id(t)] = new
        new_inputs.append(new)
    _inline(nodes, calls, tensors, graph_lib.LayerCopier(), prefix="")
    inputs = keras.tree.pack_sequence_as(fn._inputs_struct, new_inputs)
    outputs = keras.tree.pack_sequence_as(
        fn._outputs_struct, [tensors[id(t)] for t in fn.outputs])
    return keras.Model(inputs, outputs, name=fn.name)


def _inline(nodes, calls, tensors, copier, prefix):
    for node in nodes:
        layer = node.operation
        if _inlinable(layer, calls[id(layer)]):
            inner = graph_lib.functional_graph(layer)
            args, _ = node.arguments.fill_in(tensors)
            given = keras.tree.flatten(args[0] if len(args) == 1 else args)
            for t, new in zip(inner.inputs, given):
                tensors[id(t)] = new
            inner_nodes = graph_lib.ordered_nodes(inner)
            _inline(inner_nodes, graph_lib.call_counts(inner_nodes), tensors,
                    copier, f"{prefix}{layer.name}.")
            for t, inner_out in zip(node.outputs,
                                    keras.tree.flatten(inner.outputs)):
                tensors[id(t)] = tensors[id(inner_out)]
            continue
        out = copier.call(node, tensors, name=prefix + layer.name)
        for t, new in zip(node.outputs, keras.tree.flatten(out)):
            tensors[id(t)] = new
