import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_linprune as linprune
from tests import factories as f


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = keras.layers.Dense(2)

    def call(self, x):
        return self.d(x)


@pytest.fixture(scope="module")
def model():
    return f.shape_biases(f.mlp())


@pytest.mark.parametrize("fn", [linprune.apply, linprune.measure])
def test_not_a_keras_model(fn):
    with pytest.raises(
        TypeError, match="Expected a Keras 3 `keras.Model`.*Received: model="
    ):
        fn("model.keras", f.data())


@pytest.mark.parametrize("fn", [linprune.apply, linprune.measure])
def test_subclassed_model(fn):
    m = Subclassed()
    m(np.zeros((1, 6), "float32"))
    with pytest.raises(ValueError, match="Subclassed.*functional API"):
        fn(m, f.data())


def test_unbuilt_sequential():
    m = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        linprune.apply(m, f.data())


@pytest.mark.parametrize(
    "data,match",
    [
        (np.zeros((0, 6), "float32"), "at least one row"),
        (
            np.zeros((10, 5), "float32"),
            r"shape \(None, 6\).*Received: data of "
            r"shape \(10, 5\)",
        ),
        (np.zeros((10, 6, 1), "float32"), "shape"),
        (np.full((10, 6), np.nan, "float32"), "NaN or Inf"),
        ("not data", "Expected calibration data to be"),
        (tf.data.Dataset.from_tensor_slices(np.zeros((0, 6), "float32")), "non-empty"),
        (tf.data.Dataset.from_tensor_slices(np.zeros((5, 4), "float32")), "shape"),
    ],
)
def test_bad_data(model, data, match):
    with pytest.raises((ValueError, TypeError), match=match):
        linprune.apply(model, data, verbose=0)


def test_nan_activations_are_refused():
    model = f.mlp()
    x = f.data()
    layer = model.get_layer("d0")
    kernel, bias = layer.get_weights()
    kernel[:, 0] = 3e38  # finite, but x @ kernel overflows to +-inf
    layer.set_weights([kernel, bias])
    with pytest.raises(ValueError, match="NaN or Inf.*site"):
        linprune.measure(model, x, verbose=0)


def test_filtered_dataset_that_yields_nothing(model):
    ds = (
        tf.data.Dataset.from_tensor_slices(f.data())
        .filter(lambda x: x[0] > 100)
        .batch(8)
    )
    with pytest.raises(ValueError, match="0 rows"):
        linprune.measure(model, ds, verbose=0)


@pytest.mark.parametrize(
    "threshold,err",
    [
        (-0.1, ValueError),
        (1.5, ValueError),
        (float("nan"), ValueError),
        (True, TypeError),
        ("0.9", TypeError),
        ([0.9], TypeError),
    ],
)
def test_bad_threshold(model, threshold, err):
    with pytest.raises(err, match="threshold"):
        linprune.apply(model, f.data(), threshold=threshold)


@pytest.mark.parametrize(
    "lt,err",
    [
        ("fastest", ValueError),
        (-1, ValueError),
        (-0.5, ValueError),
        (1.5, ValueError),
        (True, TypeError),
        ([1], TypeError),
        (None, TypeError),
    ],
)
def test_bad_layer_threshold_lists_accepted_forms(model, lt, err):
    with pytest.raises(err, match="'optimal'.*Received: layer_threshold"):
        linprune.apply(model, f.data(), layer_threshold=lt)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(remove_dead=1), "remove_dead"),
        (dict(batch_size=0), "batch_size"),
        (dict(verbose=3), "verbose"),
    ],
)
def test_bad_options(model, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        linprune.apply(model, f.data(), **kwargs)


def test_bad_option_is_raised_before_measuring(model, monkeypatch):
    from keras_linprune.measurement import counting

    def fail(*a, **k):
        raise AssertionError("measured before validating options")

    monkeypatch.setattr(counting, "count_sites", fail)
    with pytest.raises(ValueError, match="threshold"):
        linprune.apply(model, f.data(), threshold=2.0)


def test_stats_from_another_model(model):
    stats = linprune.measure(model, f.data(), verbose=0)
    other = f.shape_biases(f.mlp(seed=5), seed=5)
    with pytest.raises(ValueError, match="different model"):
        linprune.apply(other, stats)
    changed = keras.models.clone_model(model)  # same structure, new weights
    with pytest.raises(ValueError, match="different model"):
        linprune.apply(changed, stats)


def test_other_backends_are_refused_clearly(model, monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(RuntimeError, match="TensorFlow or JAX backend.*torch"):
        linprune.apply(model, f.data())


def test_tensorflow_only_features_say_so_on_jax(model, monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    strategy = tf.distribute.get_strategy()
    with pytest.raises(RuntimeError, match="tf.distribute strategy needs the Tens"):
        linprune.measure(model, f.data(), strategy=strategy)
    with pytest.raises(RuntimeError, match="objective='latency'.*needs the Tens"):
        linprune.apply(model, f.data(), objective="latency")


def test_huge_but_finite_activations_are_refused_as_overflowing():
    """Summing a site's activations overflows float32 only for values near
    1e32: the model computes nonsense there, and the counts would too."""
    model = f.mlp()
    x = np.abs(f.data())
    layer = model.get_layer("d0")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.abs(kernel) * 1e36, np.abs(bias)])
    with pytest.raises(ValueError, match="overflow float32.*site"):
        linprune.measure(model, x, verbose=0)


def test_float64_values_beyond_float32_are_not_called_nan():
    """Issue 20: a finite 1e39 in float64 data would overflow the float32
    input; the message says so instead of "NaN or Inf"."""
    model = f.mlp()
    x = f.data().astype("float64")
    x[3, 2] = -1e39
    with pytest.raises(
        ValueError, match=r"within the range of its dtype float32.*1e\+39"
    ):
        linprune.apply(model, x, verbose=0)


def test_eval_data_of_the_wrong_shape_fails_before_measuring(model, monkeypatch):
    from keras_linprune.measurement import counting

    def never(*args, **kwargs):
        raise AssertionError("measured before checking eval_data")

    monkeypatch.setattr(counting, "count_sites", never)
    x = f.data()
    wrong = (np.zeros((10, x.shape[1] + 1), "float32"), np.zeros(10))
    with pytest.raises(
        ValueError, match=r"`eval_data` does not fit the model.*\(10, 7\)"
    ):
        linprune.apply(model, x, max_metric_drop=0.1, eval_data=wrong, verbose=0)


def test_a_sequential_of_only_an_input_is_called_empty():
    empty = keras.Sequential([keras.Input((6,))])
    with pytest.raises(ValueError, match="at least one layer.*no layers"):
        linprune.apply(empty, np.zeros((4, 6), "float32"))


def test_fewer_calibration_rows_than_the_minimum_are_refused_unless_asked(model):
    """Issue 20: one row was accepted (folding 1,379 parameters to 21, off by
    0.10 on other rows)."""
    from keras_linprune.measurement import counting

    one = f.data(1)
    with pytest.raises(ValueError, match="at least 8 calibration rows.*1 row$"):
        linprune.apply(model, one, verbose=0)
    with pytest.raises(ValueError, match="at least 8 calibration rows.*4 rows$"):
        linprune.measure(model, tf.data.Dataset.from_tensor_slices(f.data(4)).batch(2))
    with pytest.warns(counting.CalibrationWarning):  # said so, and still warned
        small, _ = linprune.apply(model, one, min_rows=1, verbose=0)
    assert small.count_params() <= model.count_params()
    with pytest.raises(ValueError, match="min_rows"):
        linprune.apply(model, f.data(), min_rows=0)
