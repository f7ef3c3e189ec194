"""Piecewise-linear activations as data (METHOD.md section 7).

An activation is described by its *pieces*: intervals `(lo, hi]` of the
pre-activation `z` on which `sigma(z) = slope * z + offset`. A neuron whose
pre-activation stays inside one piece on all data is affine there: a piece
with non-zero slope folds into a shortcut, a piece with zero slope (ReLU
off, ReLU6 saturated) is a constant that folds into the consumer's bias.

`describe(layer_or_fn, ...)` returns an `Activation` for the built-in
activations that have such pieces, or a reason string for the others.
Pieces may cover only part of the line: `hard_silu` is quadratic on
`(-3, 3)`, so neurons there are simply not in any piece.

Example:

>>> act = describe_function("relu6")
>>> [(p.lo, p.hi, p.slope, p.offset) for p in act.pieces]
[(-inf, 0.0, 0.0, 0.0), (0.0, 6.0, 1.0, 0.0), (6.0, inf, 0.0, 6.0)]
"""

import keras
import numpy as np

from keras_linprune.spec import INF, Activation, Piece, relu_pieces


def _named(name, on_output=False):
    if name == "relu":
        return Activation("relu", relu_pieces(), 1)
    if name == "relu6":
        return Activation("relu6", relu_pieces(max_value=6.0), 1)
    if name == "leaky_relu":
        return Activation("leaky_relu", relu_pieces(negative_slope=0.2), 1)
    if name == "hard_sigmoid":
        return Activation("hard_sigmoid", (
            Piece(-INF, -3.0, 0.0, 0.0),
            Piece(-3.0, 3.0, 1.0 / 6.0, 0.5),
            Piece(3.0, INF, 0.0, 1.0),
        ), 1)
    if name in ("hard_silu", "hard_swish"):
        # Quadratic on (-3, 3): only the outer pieces are affine. Read off
        # the output, h == 0 could also be z == 0 and h is not monotone, so
        # only the identity piece (h >= 3 exactly when z >= 3) is used.
        if on_output:
            return Activation(name, (Piece(3.0, INF, 1.0, 0.0),), 0,
                              partition=False)
        return Activation(name, (
            Piece(-INF, -3.0, 0.0, 0.0),
            Piece(3.0, INF, 1.0, 0.0),
        ), 1, partition=False, monotone=False)
    if name == "elu":
        # Smooth for z < 0; the identity piece z > 0 is exact.
        return Activation("elu", (Piece(0.0, INF, 1.0, 0.0),), 0,
                          partition=False)
    return None


_FUNCTIONS = {
    keras.activations.relu: "relu",
    keras.activations.relu6: "relu6",
    keras.activations.leaky_relu: "leaky_relu",
    keras.activations.hard_sigmoid: "hard_sigmoid",
    keras.activations.hard_silu: "hard_silu",
    keras.activations.elu: "elu",
}


def function_name(fn):
    """Name of an activation function, for messages."""
    return getattr(fn, "__name__", type(fn).__name__)


def describe_function(fn, on_output=False):
    """`Activation` for an activation function or name, else a reason str.

    Args:
        fn: The function (or its name).
        on_output: Whether the pieces will be read off the activation's
            output rather than its input.
    """
    name = fn if isinstance(fn, str) else _FUNCTIONS.get(fn)
    act = _named(name, on_output) if name else None
    if act is None:
        return (
            f"activation '{fn if isinstance(fn, str) else function_name(fn)}'"
            " is not piecewise linear"
        )
    return act


def describe_layer(layer, units, channel_axis=-1):
    """`Activation` for an activation layer, else a reason string.

    Args:
        layer: `ReLU`, `LeakyReLU`, `PReLU`, `ELU` or `Activation` layer.
        units: Number of channels it is applied to.
        channel_axis: Axis of the channels in its input (-1 or 1).
    """
    if type(layer) is keras.layers.ReLU:
        pieces = relu_pieces(
            float(layer.negative_slope or 0.0),
            None if layer.max_value is None else float(layer.max_value),
            float(layer.threshold or 0.0),
        )
        principal = 1 if len(pieces) > 1 else 0
        return Activation("ReLU", pieces, principal,
                          monotone=(layer.negative_slope or 0) >= 0)
    if type(layer) is keras.layers.LeakyReLU:
        return Activation("LeakyReLU",
                          relu_pieces(float(layer.negative_slope)), 1,
                          monotone=layer.negative_slope >= 0)
    if type(layer) is keras.layers.PReLU:
        alpha = np.asarray(keras.ops.convert_to_numpy(layer.alpha))
        # alpha has the input's shape without the batch axis.
        alpha = np.moveaxis(alpha, channel_axis - 1 if channel_axis > 0
                            else -1, -1)
        per_channel = alpha.reshape(-1, alpha.shape[-1])
        if alpha.shape[-1] != units or np.any(per_channel != per_channel[0]):
            return (f"PReLU '{layer.name}' has slopes that vary across "
                    "positions, not per channel")
        slopes = per_channel[0].astype(np.float64)
        return Activation("PReLU", (
            Piece(-INF, 0.0, slopes, 0.0), Piece(0.0, INF, 1.0, 0.0)),
            1, monotone=bool(np.all(slopes >= 0)))
    if type(layer) is keras.layers.ELU:
        return Activation("ELU", (Piece(0.0, INF, 1.0, 0.0),), 0,
                          partition=False)
    if type(layer) is keras.layers.Activation:
        return describe_function(layer.activation)
    return f"layer '{layer.name}' ({type(layer).__name__}) is not supported"


ACTIVATION_LAYERS = (
    keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.PReLU,
    keras.layers.ELU, keras.layers.Activation, keras.layers.Softmax,
)
