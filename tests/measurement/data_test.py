"""Calibration data: every container refused or accepted the same way."""

import tracemalloc
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_linprune as linprune
from keras_linprune.measurement.counting import CalibrationWarning
from tests import factories as f


@pytest.fixture(scope="module")
def model():
    return f.shape_biases(f.mlp())


class Batches(keras.utils.PyDataset):
    def __init__(self, x, size=32):
        super().__init__()
        self.x, self.size = x, size

    @property
    def num_batches(self):
        return int(np.ceil(len(self.x) / self.size))

    def __getitem__(self, i):
        return self.x[i * self.size : (i + 1) * self.size]


def containers(x):
    return {
        "numpy": x,
        "tf.data": tf.data.Dataset.from_tensor_slices(x).batch(32),
        "tf.data unbatched": tf.data.Dataset.from_tensor_slices(x),
        "PyDataset": Batches(x),
    }


@pytest.mark.parametrize("kind", ["numpy", "tf.data", "tf.data unbatched", "PyDataset"])
def test_nan_rows_are_refused_by_every_container(model, kind):
    x = f.data()
    x[100:, :] = np.nan  # half the rows
    with pytest.raises(ValueError, match="input.*'.*' contains NaN or Inf"):
        linprune.measure(model, containers(x)[kind], verbose=0)


def test_infinite_dataset_needs_steps(model):
    ds = tf.data.Dataset.from_tensor_slices(f.data()).batch(16).repeat()
    with pytest.raises(ValueError, match="infinite dataset"):
        linprune.measure(model, ds, verbose=0)
    stats = linprune.measure(model, ds, steps=5, verbose=0)
    assert stats.rows == 80


class Endless(keras.utils.PyDataset):
    """A PyDataset without `__len__` whose batches never run out (issue 20:
    `measure` read it forever)."""

    def __init__(self, x):
        super().__init__()
        self.x = x

    def __getitem__(self, i):
        return self.x[:16]


def test_a_pydataset_of_unknown_length_needs_steps(model):
    endless = Endless(f.data())
    with pytest.raises(ValueError, match=r"number of\s+batches is unknown"):
        linprune.measure(model, endless, verbose=0)
    stats = linprune.measure(model, endless, steps=3, verbose=0)
    assert stats.rows == 48


def test_steps_bounds_every_container(model):
    for kind, data in containers(f.data()).items():
        stats = linprune.measure(model, data, steps=2, batch_size=32, verbose=0)
        assert stats.rows == 64, kind


@pytest.mark.parametrize("steps", [0, -1, 1.5, True])
def test_bad_steps(model, steps):
    with pytest.raises(ValueError, match="steps"):
        linprune.measure(model, f.data(), steps=steps, verbose=0)


@pytest.mark.parametrize(
    "values",
    [
        np.full((8, 6), "a"),
        np.ones((8, 6), bool),
        np.ones((8, 6), complex),
        np.array([[object()] * 6] * 8),
    ],
    ids=["strings", "bools", "complex", "objects"],
)
def test_wrong_dtypes_say_what_was_expected(model, values):
    datasets = [values]
    if values.dtype != object:  # tf.data cannot hold Python objects
        datasets.append(tf.data.Dataset.from_tensor_slices(values).batch(4))
    for data in datasets:
        with pytest.raises(ValueError, match=r"real numbers.*Received: dtype"):
            linprune.measure(model, data, verbose=0)


def test_integer_data_is_accepted(model):
    x = np.random.default_rng(0).integers(-3, 3, (64, 6))
    stats = linprune.measure(model, x, verbose=0)
    ref = linprune.measure(model, x.astype("float32"), verbose=0)
    np.testing.assert_array_equal(stats.counts["d0"], ref.counts["d0"])


def test_float64_arrays_are_converted_per_batch(model):
    x = np.random.default_rng(0).normal(size=(40_000, 6))  # 1.9 MB float64
    tracemalloc.start()
    linprune.measure(model, x, batch_size=1000, verbose=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < x.nbytes / 2  # a whole float32 copy would be x.nbytes / 2


def test_dict_data_is_matched_by_input_name():
    keras.utils.set_random_seed(0)
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    h = keras.layers.Dense(8, activation="relu", name="h")(a)
    y = keras.layers.Dense(1)(keras.layers.Concatenate()([h, b]))
    model = keras.Model([a, b], y)
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(64, 3)), rng.normal(size=(64, 3)) + 5
    by_list = linprune.measure(model, [xa, xb], verbose=0)
    by_dict = linprune.measure(model, {"b": xb, "a": xa}, verbose=0)
    np.testing.assert_array_equal(by_dict.counts["h"], by_list.counts["h"])
    swapped = linprune.measure(model, [xb, xa], verbose=0)
    assert not np.array_equal(swapped.counts["h"], by_list.counts["h"])


@pytest.mark.filterwarnings("ignore:When providing `inputs` as a dict")
def test_dict_model_inputs_in_another_key_order():
    keras.utils.set_random_seed(0)
    inputs = {"zeta": keras.Input((3,), name="zeta"), "alpha": keras.Input((3,))}
    h = keras.layers.Dense(8, activation="relu", name="h")(inputs["zeta"])
    y = keras.layers.Dense(1)(keras.layers.Concatenate()([h, inputs["alpha"]]))
    model = keras.Model(inputs, y)
    rng = np.random.default_rng(0)
    data = {"alpha": rng.normal(size=(64, 3)) - 5, "zeta": rng.normal(size=(64, 3))}
    stats = linprune.measure(model, data, verbose=0)
    z = data["zeta"] @ model.get_layer("h").get_weights()[0]
    z += model.get_layer("h").get_weights()[1]
    np.testing.assert_array_equal(stats.counts["h"], (z > 0).sum(axis=0))
    by_input_name = {inputs["alpha"].name: data["alpha"], "zeta": data["zeta"]}
    again = linprune.measure(model, by_input_name, verbose=0)
    np.testing.assert_array_equal(again.counts["h"], stats.counts["h"])


def test_identical_rows_are_warned_about_once_and_reported(model):
    x = np.tile(f.data(1), (50, 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = linprune.measure(model, x, verbose=0)
    ours = [w for w in caught if issubclass(w.category, CalibrationWarning)]
    assert len(ours) == 1 and "identical" in str(ours[0].message)
    _, report = linprune.apply(model, stats)
    assert any("identical" in w for w in report.attrs["warnings"])
    assert "Warning: every calibration row is identical" in report.linprune.summary()


def test_too_few_rows_per_neuron_are_warned_about(model):
    with pytest.warns(CalibrationWarning, match="observations per neuron"):
        stats = linprune.measure(model, f.data(3), min_rows=1, verbose=0)
    assert len(stats.warnings) == 3  # one per site


def test_enough_varied_rows_raise_no_warning(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        stats = linprune.measure(model, f.data(), verbose=0)
    assert stats.warnings == []


def test_images_of_unknown_size_are_measured_and_checked():
    """A model built for any image size (`Input((None, None, 3))`) measures
    batches of different sizes; identical rows are found by their digests."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((None, None, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="c")(x_in)
    model = keras.Model(
        x_in, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    )
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(4, 8, 8, 3)), rng.normal(size=(4, 6, 10, 3))]
    data = tf.data.Dataset.from_generator(
        lambda: iter(b.astype("float32") for b in batches),
        output_signature=tf.TensorSpec((None, None, None, 3), tf.float32),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = linprune.measure(model, data, verbose=0)
    assert not [w for w in caught if issubclass(w.category, CalibrationWarning)]
    assert stats.observations["c"] == 4 * 6 * 6 + 4 * 4 * 8
    same = np.tile(batches[0][:1], (8, 1, 1, 1)).astype("float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        linprune.measure(model, same, verbose=0)
    assert any("identical" in str(w.message) for w in caught)
