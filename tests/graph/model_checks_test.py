"""The model and backend checks every entry point runs first."""

import keras
import pytest

from keras_linprune.graph import model_checks


class Subclassed(keras.Model):
    def call(self, x):
        return x


def test_functional_and_sequential_models_pass():
    x = keras.Input((3,))
    model_checks.check_model(keras.Model(x, keras.layers.Dense(2)(x)))
    model_checks.check_model(keras.Sequential([keras.layers.Dense(2)]))


@pytest.mark.parametrize(
    "model,error,match",
    [
        ("model.keras", TypeError, "Received: model='model.keras' of type str"),
        (Subclassed(), ValueError, "Subclassed models have no inspectable graph"),
    ],
)
def test_other_objects_are_refused_with_what_was_received(model, error, match):
    with pytest.raises(error, match=match):
        model_checks.check_model(model)


def test_features_that_need_tensorflow_say_so(monkeypatch):
    model_checks.check_backend(needs_tensorflow="A strategy")  # on TF here
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    model_checks.check_backend()
    with pytest.raises(RuntimeError, match="A strategy needs the TensorFlow"):
        model_checks.check_backend(needs_tensorflow="A strategy")
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(RuntimeError, match="backend='torch'"):
        model_checks.check_backend()
