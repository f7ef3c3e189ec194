import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.analysis import analyse
from keras_linprune.measurement import certify
from tests import factories as f


def box_points(low, high, shape, n=500, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=(n, *shape)).astype("float32")


def pinned_mlp():
    """Hidden biases far from 0: many neurons provably on or off on the
    box [-1, 1]^6, some undecided."""
    model = f.mlp((6, 32, 24, 3))
    rng = np.random.default_rng(0)
    for layer in model.layers[1:-1]:
        k, b = layer.get_weights()
        b = rng.choice([-20.0, 0.0, 20.0], b.shape).astype("float32")
        layer.set_weights([k * 0.5, b])
    return model


def test_certified_fold_is_exact_on_random_points_of_the_box():
    model = pinned_mlp()
    small, report = linprune.apply(model, None, input_box=(-1.0, 1.0))
    assert report.certified.any() and report.attrs["certified"]
    assert report.linear.sum() > 0 and report.dead.sum() > 0
    x = box_points(-1.0, 1.0, (6,))
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert small.count_params() < model.count_params()


def test_certify_from_calibration_min_max():
    model = pinned_mlp()
    x = box_points(-0.5, 0.5, (6,), n=200)
    small, report = linprune.apply(model, x, certify=True)
    assert report.attrs["input_box"] == "calibration min/max"
    fresh = box_points(x.min(axis=0), x.max(axis=0), (6,), seed=3)
    f.assert_close(
        small.predict(fresh, verbose=0), model.predict(fresh, verbose=0), atol=1e-5
    )


def test_certified_neurons_are_a_subset_of_measured_ones():
    model = pinned_mlp()
    x = box_points(-1.0, 1.0, (6,), n=2000)
    _, measured = linprune.apply(model, x, layer_threshold=0, verbose=0)
    _, proven = linprune.apply(model, None, input_box=(-1.0, 1.0), layer_threshold=0)
    assert (proven.linear <= measured.linear).all()
    assert (proven.dead <= measured.dead).all()


def test_conv_and_norm_bounds():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(8, 3, padding="same", name="c0")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU(name="r0")(h)
    h = keras.layers.Conv2D(4, 1, name="c1")(h)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(h))
    bn = model.get_layer("bn")
    bn.set_weights(
        [
            np.ones(8, "float32"),
            np.array([30, -30] * 4, "float32"),
            np.zeros(8, "float32"),
            np.ones(8, "float32"),
        ]
    )
    small, report = linprune.apply(model, None, input_box=(0.0, 1.0))
    assert report.linear.iloc[0] == 4 and report.dead.iloc[0] == 4
    x = box_points(0.0, 1.0, (6, 6, 2), n=50)
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)


def test_interval_bounds_contain_every_activation():
    model = f.mlp((6, 16, 8, 2))
    fn = analyse(model).fn
    bounds, pre = certify.propagate(fn, certify.input_box(-1.0, 2.0, fn))
    x = box_points(-1.0, 2.0, (6,), n=1000)
    for layer in model.layers[1:]:
        lo, hi = bounds[id(layer.output)]
        y = keras.Model(model.inputs, layer.output).predict(x, verbose=0)
        assert np.all(y >= lo - 1e-5) and np.all(y <= hi + 1e-5)


def test_prototype_check_is_a_special_case():
    model = f.provably_linear(f.mlp((6, 16, 24, 3)))
    analysis = analyse(model)
    masks = certify.prototype_check(analysis.found, analysis.fn)
    assert all(m.all() for m in masks.values())
    small, report = linprune.apply(model, None, input_box=(0.0, 10.0))
    assert report.linear.tolist() == [16, 24]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(input_box=(1.0, 0.0)), "low <= high"),
        (dict(input_box=(np.zeros(3), 1.0)), "broadcastable"),
        (dict(input_box=(0.0,)), "pair"),
        (dict(certify=True), "input_box` or the calibration data"),
        (dict(input_box=(0.0, 1.0), threshold=0.9), "certify` alone"),
    ],
)
def test_bad_certify_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        linprune.apply(pinned_mlp(), None, **kwargs)
