"""BatchNormalization as an affine map per channel."""

import keras
import numpy as np

from keras_linprune.graph import registry


def test_affine_map_equals_the_layer_at_inference():
    bn = keras.layers.BatchNormalization(epsilon=1e-3)
    bn.build((None, 3))
    rng = np.random.default_rng(0)
    gamma, beta, mean = rng.normal(size=(3, 3))
    variance = rng.uniform(0.5, 2.0, size=3)
    bn.set_weights([gamma, beta, mean, variance])
    scale, shift = registry.kind_of(bn).affine(bn)
    x = rng.normal(size=(5, 3)).astype("float32")
    expected = (x - mean) / np.sqrt(variance + 1e-3) * gamma + beta
    np.testing.assert_allclose(x * scale + shift, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(bn(x, training=False)), expected, atol=1e-5
    )


def test_only_a_norm_over_the_channel_axis_called_once_folds():
    x = keras.Input((4, 3))
    bn = keras.layers.BatchNormalization(axis=-1)
    bn(x)
    kind = registry.kind_of(bn)
    assert kind.foldable(bn, calls=1, channel_axis=-1)
    assert not kind.foldable(bn, calls=2, channel_axis=-1)
    assert not kind.foldable(bn, calls=1, channel_axis=1)
