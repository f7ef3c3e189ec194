"""Inlining nested models into one flat graph."""

import keras
import numpy as np

from keras_linprune.graph import flatten, nodes


def nested():
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(4, name="d")], name="block"
    )
    x = keras.Input((4,), name="x")
    model = keras.Model(x, keras.layers.Dense(2, name="head")(inner(x)))
    return model, inner


def test_a_nested_model_called_once_is_inlined_with_a_prefix():
    model, inner = nested()
    flat, inlined = flatten.flatten(model)
    names = [n.operation.name for n in nodes.ordered_nodes(flat)]
    assert names == ["block.d", "head"]
    (record,) = inlined
    assert record.model is inner and record.prefix == "block."
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(flat.predict(x, verbose=0), model.predict(x, verbose=0))


def test_only_functional_models_called_once_are_inlinable():
    _, inner = nested()
    assert flatten.inlinable(inner, calls=1)
    assert not flatten.inlinable(inner, calls=2)
    assert not flatten.inlinable(keras.layers.Dense(2), calls=1)
    flat, inlined = flatten.flatten(keras.Model(*_plain()))
    assert inlined == ()


def _plain():
    x = keras.Input((2,))
    return x, keras.layers.Dense(1)(x)
