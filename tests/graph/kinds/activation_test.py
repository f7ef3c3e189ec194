"""Activation kinds: per-channel weights follow the kept channels."""

import keras
import numpy as np

from keras_linprune.graph import registry

L = keras.layers


def test_prelu_narrows_its_slopes_per_channel():
    prelu = L.PReLU()
    prelu.build((None, 4, 3))
    alpha = np.arange(12, dtype="float32").reshape(4, 3)
    prelu.set_weights([alpha])
    (narrowed,) = registry.kind_of(prelu).narrow_weights(prelu, [0, 2], -1)
    np.testing.assert_array_equal(narrowed, alpha[:, [0, 2]])
