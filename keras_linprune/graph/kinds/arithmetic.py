"""Arithmetic with a constant on a symbolic tensor: `x + c`, `c + x`,
`x - c`, `c - x`, `x * c`, `c * x`, `x / c`, `-x` (Keras records each as an
operation node, not a layer).

With a scalar `c` each is the affine map `x * scale + shift` on every
channel, so it folds exactly like an inference-mode `BatchNormalization`:
between a producer and its activation into the producer's kernel and bias,
between an activation and its consumers into the consumers' kernel rows
and bias. The same operation between two tensors (a residual `x + f(x)`)
or with a non-scalar constant is copied unchanged.
"""

import keras
import numpy as np

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph.kinds.base import LayerKind


def _is_tensor(value):
    return isinstance(value, keras.KerasTensor)


def _scalar(value):
    """`value` as a float if it is a constant scalar, else `None`."""
    if _is_tensor(value):
        return None
    try:
        array = np.asarray(internals.to_numpy(value), np.float64)
    except Exception:  # noqa: BLE001 - not a number
        return None
    return float(array) if array.size == 1 else None


class ScalarAffineKind(LayerKind):
    """One arithmetic operation class; `combine(tensor_first, c)` gives
    `(scale, shift)` of `x -> x op c` (or `c op x` when not tensor_first).
    """

    role = "norm"
    known = False  # listed as copied unchanged unless a site absorbs it
    #: Copied as it is behind a depthwise layer that lost channels (it has
    #: no per-channel weights), so never one of its channel maps.
    copies_per_channel = False

    def __init__(self, combine):
        self.combine = combine

    def scale_shift(self, operation):
        """`(scale, shift)` of the operation's single call, or `None` when
        it is not `x op scalar` (two tensors, an array constant, several
        calls)."""
        node = internals.only_call(operation)
        if node is None:
            return None
        args = node.arguments.args
        tensors = [a for a in args if _is_tensor(a)]
        if len(tensors) != 1 or node.arguments.kwargs:
            return None
        if len(args) == 1:
            return self.combine(True, None)
        constant = _scalar(args[1] if _is_tensor(args[0]) else args[0])
        if constant is None:
            return None
        return self.combine(_is_tensor(args[0]), constant)

    def foldable(self, layer, calls, channel_axis=-1):
        """A scalar affine map, called once."""
        return calls == 1 and self.scale_shift(layer) is not None

    def affine(self, layer):
        """`(scale, shift)` per channel, in float64."""
        node = internals.only_call(layer)
        shape = node.outputs[0].shape
        scale, shift = self.scale_shift(layer)
        width = shape[-1]  # a scalar: the same on any channel axis
        return np.full(width, scale), np.full(width, shift)

    def interval(self, layer, node, bounds, pre):
        low, high = bounds[0]
        affine = self.scale_shift(layer)
        if affine is None:
            return None
        scale, shift = affine
        a, b = low * scale + shift, high * scale + shift
        return np.minimum(a, b), np.maximum(a, b)


def _add(tensor_first, c):
    return 1.0, c


def _subtract(tensor_first, c):
    return (1.0, -c) if tensor_first else (-1.0, c)


def _multiply(tensor_first, c):
    return c, 0.0


def _divide(tensor_first, c):
    return (1.0 / c, 0.0) if tensor_first and c != 0 else None


def _negative(tensor_first, c):
    return -1.0, 0.0


ADD = ScalarAffineKind(_add)
SUBTRACT = ScalarAffineKind(_subtract)
MULTIPLY = ScalarAffineKind(_multiply)
DIVIDE = ScalarAffineKind(_divide)
NEGATIVE = ScalarAffineKind(_negative)

#: Operation class name -> kind.
BY_OP_NAME = {
    "Add": ADD,
    "Subtract": SUBTRACT,
    "Multiply": MULTIPLY,
    "TrueDivide": DIVIDE,
    "Divide": DIVIDE,
    "Negative": NEGATIVE,
}
