import keras
import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f


def model_and_data(seed=0):
    """Hidden biases in (0.5, 2.5): most neurons are active on most, not
    all, rows (rates between about 0.7 and 1)."""
    model = f.mlp((8, 48, 40, 32, 4), seed=seed)
    rng = np.random.default_rng(seed)
    for layer in model.layers[1:-1]:
        k, b = layer.get_weights()
        layer.set_weights([k, rng.uniform(0.5, 2.5, b.shape).astype("float32")])
    return model, f.data(600, 8, seed=seed + 1)


def errors(small, model, x):
    return np.abs(small.predict(x, verbose=0) - model.predict(x, verbose=0))


def test_refit_equals_plain_fold_at_threshold_one():
    model, x = model_and_data()
    plain, r1 = linprune.apply(model, x, layer_threshold=0, verbose=0)
    fitted, r2 = linprune.apply(
        model, x, layer_threshold=0, refit=True, ridge=0.0, verbose=0
    )
    assert r2.attrs["refit"] and r1.linear.sum() > 0
    assert fitted.count_params() == plain.count_params()
    f.assert_close(fitted.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)


@pytest.mark.parametrize("threshold", [0.9, 0.7])
def test_refit_is_more_accurate_below_one(threshold):
    model, x = model_and_data()
    plain, r1 = linprune.apply(
        model, x, threshold=threshold, layer_threshold=0, verbose=0
    )
    fitted, r2 = linprune.apply(
        model, x, threshold=threshold, layer_threshold=0, refit=True, verbose=0
    )
    assert fitted.count_params() == plain.count_params()
    assert r1.linear.sum() == r2.linear.sum() > 0
    assert (errors(fitted, model, x) ** 2).mean() < (
        errors(plain, model, x) ** 2
    ).mean()


def test_refit_skips_convolutions_and_says_so():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="c0")(inp)
    h = keras.layers.Conv2D(4, 1, name="c1")(h)
    model = keras.Model(inp, keras.layers.Flatten()(h))
    for layer in model.layers[1:2]:
        k, b = layer.get_weights()
        layer.set_weights([k * 0.05, np.full_like(b, 5.0)])
    x = np.random.default_rng(0).normal(size=(32, 6, 6, 2)).astype("float32")
    small, report = linprune.apply(model, x, layer_threshold=0, refit=True, verbose=0)
    assert report.attrs["refit_skipped"] == {"c0": "convolution"}
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_refit_needs_data_and_a_valid_ridge():
    model, x = model_and_data()
    stats = linprune.measure(model, x, verbose=0)
    with pytest.raises(ValueError, match="calibration data with `refit"):
        linprune.apply(model, stats, refit=True)
    with pytest.raises(ValueError, match="ridge"):
        linprune.apply(model, x, refit=True, ridge=-1.0)
    with pytest.raises(TypeError, match="refit"):
        linprune.apply(model, x, refit="yes")


def test_refit_through_a_concatenate_with_the_input():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((8,))
    a = keras.layers.Dense(24, activation="relu", name="a")(x_in)
    h = keras.layers.Concatenate()([a, x_in])
    h = keras.layers.Dense(16, activation="relu", name="b")(h)
    model = keras.Model(x_in, keras.layers.Dense(3, name="out")(h))
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        layer = model.get_layer(name)
        k, b = layer.get_weights()
        layer.set_weights([k, rng.uniform(0.5, 2.5, b.shape).astype("float32")])
    x = f.data(500, 8)
    exact, _ = linprune.apply(
        model, x, layer_threshold=0, refit=True, ridge=0.0, verbose=0
    )
    f.assert_close(exact.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)
    plain, _ = linprune.apply(model, x, threshold=0.8, layer_threshold=0, verbose=0)
    fitted, _ = linprune.apply(
        model, x, threshold=0.8, layer_threshold=0, refit=True, verbose=0
    )
    assert (errors(fitted, model, x) ** 2).mean() < (
        errors(plain, model, x) ** 2
    ).mean()
