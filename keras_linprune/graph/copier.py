"""Copies of layers for a new graph: same config, same weights, no sharing.

A copy is made from the layer's config and given the layer's weights once
built, so no variable is shared with the original; a layer called at
several nodes maps to one copy, so sharing is preserved.
"""

import keras

from keras_linprune.graph import keras_internals as internals


class LayerCopier:
    """Calls fresh copies of layers on new tensors, one copy per layer.

    A layer that cannot be re-created from its config (a custom layer
    without a working `get_config`) is reused as it is and named in
    `reused`.
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
        out = internals.call_like(node, copy, tensors)
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
            layer.function,
            output_shape=internals.lambda_output_shape(layer),
            mask=layer.mask,
            arguments=layer.arguments,
            name=name,
        )
    try:
        config = layer.get_config()
        config["name"] = name
        return layer.__class__.from_config(config)
    except Exception:  # noqa: BLE001 - any failure means "cannot re-create"
        return None
