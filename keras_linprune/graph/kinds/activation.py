"""Activation layers: `ReLU`, `LeakyReLU`, `PReLU`, `ELU`, `Activation`,
`Softmax`.

Each describes itself as pieces (`core.pieces.Activation`) or says why it
cannot fold, gives its interval rule, and narrows its per-channel weights
(PReLU's slopes) when channels are removed.
"""

import numpy as np

from keras_linprune.core.pieces import INF, Activation, Piece, relu_pieces
from keras_linprune.graph import activations
from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph.kinds.base import LayerKind, monotone_bounds


class ActivationKind(LayerKind):
    """An activation layer applied to the channels of one tensor."""

    role = "activation"
    known = True

    def describe(self, layer, units, channel_axis=-1):
        """`Activation` pieces, or a reason string.

        Args:
            layer: The activation layer.
            units: Number of channels it is applied to.
            channel_axis: Axis of the channels in its input (-1 or 1).
        """
        return f"layer '{layer.name}' ({type(layer).__name__}) is not supported"

    def narrow_weights(self, layer, keep, channel_axis):
        """The layer's weights for the channels `keep` only."""
        return layer.get_weights()

    def interval(self, layer, node, bounds, pre):
        return None


class ReLUKind(ActivationKind):
    """`ReLU(max_value, negative_slope, threshold)`."""

    def describe(self, layer, units, channel_axis=-1):
        pieces = relu_pieces(
            float(layer.negative_slope or 0.0),
            None if layer.max_value is None else float(layer.max_value),
            float(layer.threshold or 0.0),
        )
        principal = 1 if len(pieces) > 1 else 0
        return Activation(
            "ReLU", pieces, principal, monotone=(layer.negative_slope or 0) >= 0
        )

    def interval(self, layer, node, bounds, pre):
        if (layer.negative_slope or 0) < 0:
            return None
        return monotone_bounds(layer, *bounds[0])


class LeakyReLUKind(ReLUKind):
    def describe(self, layer, units, channel_axis=-1):
        return Activation(
            "LeakyReLU",
            relu_pieces(float(layer.negative_slope)),
            1,
            monotone=layer.negative_slope >= 0,
        )


def _weight_axis(channel_axis):
    """Axis of the channels in per-position weights (no batch axis)."""
    return channel_axis - 1 if channel_axis > 0 else -1


class PReLUKind(ActivationKind):
    """`PReLU` with one slope per channel (shared over positions)."""

    def describe(self, layer, units, channel_axis=-1):
        alpha = np.asarray(internals.to_numpy(layer.alpha))
        alpha = np.moveaxis(alpha, _weight_axis(channel_axis), -1)
        per_channel = alpha.reshape(-1, alpha.shape[-1])
        if alpha.shape[-1] != units or np.any(per_channel != per_channel[0]):
            return (
                f"PReLU '{layer.name}' has slopes that vary across "
                "positions, not per channel"
            )
        slopes = per_channel[0].astype(np.float64)
        return Activation(
            "PReLU",
            (Piece(-INF, 0.0, slopes, 0.0), Piece(0.0, INF, 1.0, 0.0)),
            1,
            monotone=bool(np.all(slopes >= 0)),
        )

    def narrow_weights(self, layer, keep, channel_axis):
        axis = _weight_axis(channel_axis)
        return [np.take(w, keep, axis=axis) for w in layer.get_weights()]

    def interval(self, layer, node, bounds, pre):
        if np.all(internals.to_numpy(layer.alpha) >= 0):
            return monotone_bounds(layer, *bounds[0])
        return None


class ELUKind(ActivationKind):
    def describe(self, layer, units, channel_axis=-1):
        return Activation("ELU", (Piece(0.0, INF, 1.0, 0.0),), 0, partition=False)

    def interval(self, layer, node, bounds, pre):
        return monotone_bounds(layer, *bounds[0]) if layer.alpha >= 0 else None


class FunctionKind(ActivationKind):
    """`Activation(fn)`: described by its function."""

    def describe(self, layer, units, channel_axis=-1):
        return activations.describe_function(layer.activation)

    def interval(self, layer, node, bounds, pre):
        return activations.bounds_through(layer.activation, *bounds[0])


RELU = ReLUKind()
LEAKY_RELU = LeakyReLUKind()
PRELU = PReLUKind()
ELU = ELUKind()
FUNCTION = FunctionKind()
UNSUPPORTED = ActivationKind()
