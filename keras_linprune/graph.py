"""Access to the functional graph of a Keras model.

Keras keeps the graph of a functional model as `Node`s grouped by depth
(`keras/src/ops/function.py`); a built `Sequential` holds an equivalent
functional graph. This module hides those internals behind four small
functions, so that the rest of the package walks graphs one way.
"""

import collections

import keras

from keras_linprune import validation


def functional_graph(model):
    """Returns the functional graph (a `keras.Model`) that `model` runs.

    Args:
        model: A functional `keras.Model` or a built `keras.Sequential`.

    Returns:
        The model itself when it is functional; for a `Sequential`, the
        functional model it wraps.

    Raises:
        TypeError: If `model` is not a Keras 3 model.
        ValueError: If `model` is subclassed or an unbuilt `Sequential`.

    Example:

    >>> import keras
    >>> seq = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> len(ordered_nodes(functional_graph(seq)))
    1
    """
    validation.check_model(model)
    if isinstance(model, keras.Sequential):
        fn = getattr(model, "_functional", None)
        if fn is None:
            raise ValueError(
                "The Sequential model is not built, so its graph is unknown. "
                "Start it with `keras.Input(shape)` or call it on data once. "
                f"Received: model={model.name!r}"
            )
        return fn
    return model


def ordered_nodes(fn):
    """The call nodes of `fn` in topological order (inputs excluded)."""
    nodes = []
    for depth in sorted(fn._nodes_by_depth, reverse=True):
        for node in fn._nodes_by_depth[depth]:
            if node.operation is not None and not node.is_input:
                nodes.append(node)
    return nodes


def consumers_by_tensor(nodes):
    """Maps `id(tensor)` to the nodes that read that tensor."""
    consumers = collections.defaultdict(list)
    for node in nodes:
        for tensor in node.input_tensors:
            consumers[id(tensor)].append(node)
    return consumers


def call_counts(nodes):
    """Maps `id(layer)` to the number of times it is called in the graph."""
    return collections.Counter(id(node.operation) for node in nodes)


def tensor_key(tensor):
    """A readable, unique key for a tensor: its producing layer's name.

    The node and output index are appended when the layer is shared or has
    several outputs, e.g. `"encoder_1_0"`.
    """
    layer, node_index, tensor_index = tensor._keras_history
    key = layer.name
    if node_index:
        key += f"_{node_index}"
    if tensor_index:
        key += f"_{tensor_index}"
    return key
