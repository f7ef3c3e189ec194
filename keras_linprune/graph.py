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


class LayerCopier:
    """Calls fresh copies of layers on new tensors, one copy per layer.

    A copy is made from the layer's config and given the layer's weights
    once built, so no variable is shared with the original; a layer called
    at several nodes maps to one copy, so sharing is preserved. A layer that
    cannot be re-created from its config (a custom layer without a working
    `get_config`) is reused as it is and named in `reused`.
    """

    def __init__(self):
        self._copies = {}
        self.reused = []  # names of layers that had to be reused as is

    def call(self, node, tensors, *, name=None, weights=None):
        """Applies the copy of `node.operation` to the new `tensors`.

        Args:
            node: A node of the original graph.
            tensors: Mapping from `id(original tensor)` to new tensors.
            name: Name of the copy (default: the layer's).
            weights: Weights for the copy (default: the layer's).

        Returns:
            The copy's outputs.
        """
        layer = node.operation
        copy = self._copies.get(id(layer))
        first_call = copy is None
        if first_call:
            copy = _fresh_copy(layer, name or layer.name)
            if copy is None:  # cannot be re-created: reuse it as it is
                copy = layer
                self.reused.append(layer.name)
            self._copies[id(layer)] = copy
        args, kwargs = node.arguments.fill_in(tensors)
        out = copy(*args, **kwargs)
        if first_call and copy is not layer:
            weights = layer.get_weights() if weights is None else weights
            if weights:
                copy.set_weights(weights)
        return out


def _fresh_copy(layer, name):
    """A new, unbuilt layer like `layer`, or `None` if none can be made.

    A `Lambda` gets the same Python function (re-creating it from its config
    would need unsafe deserialization); other layers come from their config,
    which fails for custom layers without a working `get_config`.
    """
    if type(layer) is keras.layers.Lambda:
        return keras.layers.Lambda(
            layer.function, output_shape=layer._output_shape, mask=layer.mask,
            arguments=layer.arguments, name=name,
        )
    try:
        config = layer.get_config()
        config["name"] = name
        return layer.__class__.from_config(config)
    except Exception:  # noqa: BLE001 - any failure means "cannot re-create"
        return None
