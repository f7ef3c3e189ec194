"""The original's weights in the algebra's form, normalizations absorbed."""

import keras
import numpy as np

from keras_linprune.analysis import analyse
from keras_linprune.rebuild import weights


def test_a_batch_norm_after_the_producer_is_absorbed_into_its_affine():
    keras.utils.set_random_seed(0)
    x = keras.Input((3,), name="x")
    dense = keras.layers.Dense(4, name="d")
    bn = keras.layers.BatchNormalization(name="bn")
    h = keras.layers.ReLU()(bn(dense(x)))
    model = keras.Model(x, keras.layers.Dense(2, name="out")(h))
    rng = np.random.default_rng(0)
    bn.set_weights(
        [
            rng.normal(size=4),
            rng.normal(size=4),
            rng.normal(size=4),
            rng.uniform(0.5, 2, size=4),
        ]
    )
    affine = weights.initial_affines(analyse(model))["d"]
    (kernel,) = affine.terms.values()
    data = rng.normal(size=(7, 3)).astype("float32")
    expected = keras.Model(x, bn(dense(x))).predict(data, verbose=0)
    np.testing.assert_allclose(data @ kernel + affine.bias, expected, atol=1e-5)


def test_a_layer_without_bias_has_none():
    layer = keras.layers.Dense(2, use_bias=False)
    layer.build((None, 3))
    assert weights.algebra_bias(layer) is None
    biased = keras.layers.Dense(2)
    biased.build((None, 3))
    assert weights.algebra_bias(biased).dtype == np.float64
