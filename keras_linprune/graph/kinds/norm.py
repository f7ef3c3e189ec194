"""`BatchNormalization`: an affine map per channel at inference.

Between a producer and its activation it folds into the producer's kernel
and bias; between an activation and its consumers, into each consumer's
kernel rows and bias (where the consumer is exact on constants).
"""

import numpy as np

from keras_linprune.core import algebra
from keras_linprune.graph.kinds.base import LayerKind, to_numpy


class BatchNormKind(LayerKind):
    """`keras.layers.BatchNormalization` (inference statistics)."""

    role = "norm"
    known = False  # listed as copied unchanged unless a site absorbs it
    #: Copied narrowed (`narrow_weights`) behind a depthwise layer that
    #: lost channels.
    copies_per_channel = True

    def foldable(self, layer, calls, channel_axis=-1):
        """Normalizes `channel_axis` and is called once."""
        if calls > 1:
            return False
        rank = len(layer.input.shape)
        return layer.axis % rank == channel_axis % rank

    def affine(self, layer):
        """`(scale, shift)` per channel at inference, in float64."""
        return algebra.norm_scale_shift(
            to_numpy(layer.gamma) if layer.scale else None,
            to_numpy(layer.beta) if layer.center else None,
            to_numpy(layer.moving_mean),
            to_numpy(layer.moving_variance),
            layer.epsilon,
        )

    def narrow_weights(self, layer, keep, channel_axis):
        """Scale, offset and statistics of the kept channels (a copy
        behind a depthwise convolution that lost channels)."""
        return [np.take(w, keep, axis=0) for w in layer.get_weights()]

    def interval(self, layer, node, bounds, pre):
        low, high = bounds[0]
        axis = layer.axis % (low.ndim + 1) - 1
        shape = [1] * low.ndim
        shape[axis] = -1
        scale, shift = self.affine(layer)
        scale, shift = scale.reshape(shape), shift.reshape(shape)
        a, b = low * scale + shift, high * scale + shift
        return np.minimum(a, b), np.maximum(a, b)


BATCH_NORM = BatchNormKind()
