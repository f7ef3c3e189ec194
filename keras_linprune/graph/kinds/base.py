"""The base layer kind, and helpers shared by the kinds.

A layer whose class is not in the registry gets `LayerKind()`: it is copied
unchanged, nothing is found through it, and its outputs are unbounded for
certification (which can only prevent proofs, never make a wrong one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import nodes as nodes_lib


class LayerKind:
    """An opaque layer: copied unchanged; the base of every kind.

    Attributes:
        role: What the layer is to site matching: `"opaque"`, `"input"`,
            `"linear"` (has a kernel: producer or consumer of sites),
            `"norm"` (foldable normalization), `"activation"`,
            `"identity"` (the identity at inference), `"channel_pass"`
            (channel-wise: dead channels can be removed through it),
            `"depthwise"` (a convolution per channel: dead channels pass
            as constants), `"concatenate"`, `"add"` or `"structural"`
            (reshapes or pools values without mixing them with weights).
        known: Whether the engine understands the layer; other layers are
            listed in the report as copied unchanged.
        flattens: Whether the layer flattens positions and channels into
            one axis (`Flatten`): a Dense behind it reads each channel once
            per position.
    """

    role = "opaque"
    known = False
    flattens = False

    def interval(
        self, layer: keras.Layer, node: Any, bounds: Any, pre: Any
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Interval bounds of the layer's output, or `None` (unbounded).

        Args:
            layer: The layer.
            node: Its call node.
            bounds: `(low, high)` NumPy arrays (no batch axis) per input.
            pre: Dict to record pre-activation bounds of inline
                activations in, keyed by `id(node)`.
        """
        return None

    def macs(self, layer: keras.Layer, node: Any) -> int | None:
        """Multiply-accumulates per example of one call of a layer with a
        kernel (0 for every other layer), or `None` when a spatial size
        is unknown."""
        return 0

    def channel_params(self, layer: keras.Layer, width: int) -> int:
        """Parameters that go with each of `width` input channels when the
        layer is narrowed with a site's kept channels."""
        return nodes_lib.params_of(layer) // width

    def __repr__(self):
        return f"<{type(self).__name__} role={self.role}>"


def positions(shape: Sequence[int | None], channel_axis: int) -> int | None:
    """Number of positions (all axes but batch and channels) of a tensor
    shape, or `None` if one of them is unknown."""
    axes = list(shape[1:])
    del axes[channel_axis if channel_axis < 0 else channel_axis - 1]
    known = [int(a) for a in axes if a is not None]
    if len(known) < len(axes):
        return None
    return int(np.prod(known, dtype=np.int64))


def kernel_macs(
    layer: keras.Layer, node: Any, tensor: Any, *kernels: Any
) -> int | None:
    """`positions of tensor` times the sizes of `kernels`, or `None`."""
    axis = 1 if getattr(layer, "data_format", None) == "channels_first" else -1
    count = positions(tensor.shape, axis)
    if count is None:
        return None
    return count * sum(int(np.prod(k.shape)) for k in kernels)


def to_numpy(variable: Any) -> np.ndarray:
    """A Keras variable or tensor as a float64 NumPy array."""
    return np.asarray(internals.to_numpy(variable), np.float64)


def monotone_bounds(
    fn: Callable[[Any], Any], low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Applies a non-decreasing elementwise or structural `fn` to bounds."""

    def run(x):
        return to_numpy(fn(np.asarray(x, np.float32)[None]))[0]

    return run(low), run(high)


def affine_bounds(
    low: np.ndarray,
    high: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    apply: Callable[..., Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of `apply(x, kernel) + bias` for `low <= x <= high`.

    `apply` must be linear in `x` and in `kernel` (a product, a
    convolution): the kernel's positive and negative parts take the
    matching ends of the box.
    """
    pos, neg = np.maximum(kernel, 0), np.minimum(kernel, 0)
    out_low = apply(low, pos) + apply(high, neg)
    out_high = apply(high, pos) + apply(low, neg)
    if bias is not None:
        out_low, out_high = out_low + bias, out_high + bias
    return out_low, out_high


def position_rows(v: Any, channel_axis: int = -1) -> Any:
    """`v` (`keras.ops`) as one row per position and its channels as
    columns: the channel axis moved last, everything else flattened.
    Counting, refit's features and convolution patches all read it so.

    >>> tuple(position_rows(np.zeros((2, 3, 4, 5)), channel_axis=1).shape)
    (40, 3)
    """
    if channel_axis not in (-1, len(v.shape) - 1):
        v = keras.ops.moveaxis(v, channel_axis, -1)
    return keras.ops.reshape(v, (-1, v.shape[-1]))
