"""Cutting a rebuilt flat graph back into the original's submodels."""

import keras
import numpy as np

import keras_linprune as linprune
from keras_linprune.graph import nest
from tests import factories as f


def transfer_model():
    base = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="relu", name="d")],
        name="base",
    )
    base.trainable = False
    x = keras.Input((6,), name="x")
    return keras.Model(x, keras.layers.Dense(3, name="head")(base(x)), name="outer")


def test_flat_operations_name_nested_layers_by_their_submodel():
    names = [name for name, _ in nest.flat_operations(transfer_model())]
    assert names == ["base.d", "head"]


def test_the_rebuild_keeps_the_submodel_its_name_and_trainable_flag():
    model = f.shape_biases(transfer_model())
    x = f.data(256, 6)
    small, _ = linprune.apply(model, x, verbose=0)
    (base,) = [layer for layer in small.layers if isinstance(layer, keras.Model)]
    assert base.name == "base" and not base.trainable
    assert isinstance(base, keras.Sequential)
    np.testing.assert_allclose(
        small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


def test_nothing_inlined_returns_the_flat_model():
    x = keras.Input((2,))
    flat = keras.Model(x, keras.layers.Dense(1)(x))
    assert nest.renest(flat, (), {}) is flat
