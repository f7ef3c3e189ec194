"""Activation functions as pieces (docs/method.md, section 4).

`describe_function` returns a `core.pieces.Activation` for the built-in
activation functions that are piecewise linear, or a reason string for the
others. Pieces may cover only part of the line: `hard_silu` is quadratic
on `(-3, 3)`, so neurons there are simply not in any piece. Activation
*layers* (`ReLU`, `PReLU`, ...) are described by their kinds
(`kinds/activation.py`), which call into this module.

Example:

>>> act = describe_function("relu6")
>>> [(p.lo, p.hi, p.slope, p.offset) for p in act.pieces]
[(-inf, 0.0, 0.0, 0.0), (0.0, 6.0, 1.0, 0.0), (6.0, inf, 0.0, 6.0)]
"""

import keras

from keras_linprune.core.pieces import INF, Activation, Piece, relu_pieces
from keras_linprune.graph.kinds.base import monotone_bounds


def _hard_silu(name, on_output):
    # Quadratic on (-3, 3): only the outer pieces are affine. Read off the
    # output, h == 0 could also be z == 0 and h is not monotone, so only
    # the identity piece (h >= 3 exactly when z >= 3) is used.
    if on_output:
        return Activation(name, (Piece(3.0, INF, 1.0, 0.0),), 0, partition=False)
    return Activation(
        name,
        (Piece(-INF, -3.0, 0.0, 0.0), Piece(3.0, INF, 1.0, 0.0)),
        1,
        partition=False,
        monotone=False,
    )


def _named(name, on_output=False):
    if name == "relu":
        return Activation("relu", relu_pieces(), 1)
    if name == "relu6":
        return Activation("relu6", relu_pieces(max_value=6.0), 1)
    if name == "leaky_relu":
        return Activation("leaky_relu", relu_pieces(negative_slope=0.2), 1)
    if name == "hard_sigmoid":
        return Activation(
            "hard_sigmoid",
            (
                Piece(-INF, -3.0, 0.0, 0.0),
                Piece(-3.0, 3.0, 1.0 / 6.0, 0.5),
                Piece(3.0, INF, 0.0, 1.0),
            ),
            1,
        )
    if name in ("hard_silu", "hard_swish"):
        return _hard_silu(name, on_output)
    if name == "elu":
        # Smooth for z < 0; the identity piece z > 0 is exact.
        return Activation("elu", (Piece(0.0, INF, 1.0, 0.0),), 0, partition=False)
    return None


_FUNCTIONS = {
    keras.activations.relu: "relu",
    keras.activations.relu6: "relu6",
    keras.activations.leaky_relu: "leaky_relu",
    keras.activations.hard_sigmoid: "hard_sigmoid",
    keras.activations.hard_silu: "hard_silu",
    keras.activations.elu: "elu",
}

#: Activation functions that are non-decreasing (bounds map to bounds).
MONOTONE_FUNCTIONS = frozenset(
    keras.activations.get(name)
    for name in (
        "linear",
        "relu",
        "relu6",
        "leaky_relu",
        "hard_sigmoid",
        "elu",
        "selu",
        "sigmoid",
        "tanh",
        "softplus",
        "softsign",
        "exponential",
    )
)

#: The identity activation of linear layers.
LINEAR = keras.activations.linear


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


def bounds_through(fn, low, high):
    """Interval bounds after activation function `fn`, or `None` when `fn`
    is not known to be non-decreasing."""
    if fn not in MONOTONE_FUNCTIONS:
        return None
    return monotone_bounds(fn, low, high)
