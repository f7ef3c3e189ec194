"""Inlines nested functional and Sequential models into one flat graph.

Fold sites inside a nested model (a block reused as a layer, a transfer
learning base) become visible once its layers are part of the outer graph.
The flat graph is built from copies of every layer (`copier.LayerCopier`),
so the user's model is never touched; inner layers are named
`"<submodel>.<layer>"` so they stay recognisable in the report, and
`nest.renest` groups them back into submodels after the rebuild.
"""

import dataclasses

import keras

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.graph.copier import LayerCopier


@dataclasses.dataclass(frozen=True)
class Inlined:
    """A nested model that `flatten` inlined.

    Attributes:
        model: The user's submodel (its name, type and `trainable` flag).
        prefix: The prefix of its layers' names in the flat graph,
            e.g. `"base."` or `"outer.block."`.
        inputs: The flat graph's tensors it was called on, in call order.
        outputs: The flat graph's tensors it returned.
        children: The submodels nested in it (`Inlined` records).
    """

    model: object
    prefix: str
    inputs: tuple
    outputs: tuple
    children: tuple = ()


def inlinable(layer, calls):
    """Whether `flatten` inlines `layer`, called `calls` times."""
    return (
        isinstance(layer, keras.Model)
        and calls == 1
        and (isinstance(layer, keras.Sequential) or internals.is_functional(layer))
    )


def flatten(fn):
    """`(fn, ())` when `fn` has no nested model, else a flat equivalent and
    the `Inlined` records of the top-level submodels it inlined.

    Nested models called more than once, and subclassed ones, are kept as
    single layers.

    Example:

    >>> import keras
    >>> dense = keras.layers.Dense(4, name="d")
    >>> block = keras.Sequential([keras.Input((4,)), dense], name="block")
    >>> x = keras.Input((4,))
    >>> flat, inlined = flatten(keras.Model(x, block(x)))
    >>> [layer.name for layer in flat.layers[1:]], inlined[0].prefix
    (['block.d'], 'block.')
    """
    nodes = nodes_lib.ordered_nodes(fn)
    calls = nodes_lib.call_counts(nodes)
    if not any(inlinable(n.operation, calls[id(n.operation)]) for n in nodes):
        return fn, ()
    tensors = nodes_lib.new_inputs(fn)
    inlined = _inline(nodes, calls, tensors, LayerCopier(), prefix="")
    return nodes_lib.new_model(fn, tensors, fn.name), inlined


def _inline(nodes, calls, tensors, copier, prefix):
    """Copies `nodes` into the flat graph; returns the `Inlined` records of
    the submodels among them."""
    inlined = []
    for node in nodes:
        layer = node.operation
        if inlinable(layer, calls[id(layer)]):
            inlined.append(
                _inline_model(node, tensors, copier, f"{prefix}{layer.name}.")
            )
            continue
        out = copier.call(node, tensors, name=prefix + layer.name)
        for t, new in zip(node.outputs, keras.tree.flatten(out)):
            tensors[id(t)] = new
    return tuple(inlined)


def _inline_model(node, tensors, copier, prefix):
    """Inlines the nested model that `node` calls, its layers renamed
    `prefix + name`."""
    inner = nodes_lib.functional_graph(node.operation)
    args = internals.call_arguments(node, tensors)
    given = keras.tree.flatten(args[0] if len(args) == 1 else args)
    for t, new in zip(inner.inputs, given):
        tensors[id(t)] = new
    inner_nodes = nodes_lib.ordered_nodes(inner)
    calls = nodes_lib.call_counts(inner_nodes)
    children = _inline(inner_nodes, calls, tensors, copier, prefix)
    returned = []
    for t, inner_out in zip(node.outputs, keras.tree.flatten(inner.outputs)):
        tensors[id(t)] = tensors[id(inner_out)]
        returned.append(tensors[id(inner_out)])
    return Inlined(node.operation, prefix, tuple(given), tuple(returned), children)
