"""Depthwise and separable convolutions: dead channels pass, narrowed."""

import keras
import numpy as np

from keras_linprune.graph import registry
from keras_linprune.graph.kinds.depthwise import dead_channel_values


def test_depthwise_weights_of_the_kept_channels():
    layer = keras.layers.DepthwiseConv2D(3)
    layer.build((None, 6, 6, 4))
    kernel = np.arange(36, dtype="float32").reshape(3, 3, 4, 1)
    layer.set_weights([kernel, np.arange(4, dtype="float32")])
    narrowed_kernel, narrowed_bias = registry.kind_of(layer).narrow_weights(
        layer, [1, 3], -1
    )
    np.testing.assert_array_equal(narrowed_kernel, kernel[:, :, [1, 3]])
    np.testing.assert_array_equal(narrowed_bias, [1, 3])


def test_a_dead_channel_becomes_the_depthwise_bias_mapped_by_what_follows():
    x = keras.Input((6, 6, 2))
    depthwise = keras.layers.DepthwiseConv2D(3, padding="same")
    bn = keras.layers.BatchNormalization()
    keras.Model(x, bn(depthwise(x)))
    depthwise.set_weights([np.ones((3, 3, 2, 1)), np.array([2.0, -1.0])])
    bn.set_weights([np.ones(2), np.array([0.5, 0.5]), np.zeros(2), np.ones(2)])
    got = dead_channel_values([depthwise, bn], channel_axis=-1)
    expected = np.array([2.0, -1.0]) / np.sqrt(1 + bn.epsilon) + 0.5
    np.testing.assert_allclose(got, expected, rtol=1e-6)
