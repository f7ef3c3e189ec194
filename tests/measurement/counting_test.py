import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import keras_linprune as linprune
from tests import factories as f


def reference_counts(model, x, names):
    """Counts computed directly from each activation layer's output."""
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    outs = probe.predict(x, verbose=0)
    return [np.count_nonzero(o > 0, axis=0) for o in outs]


def test_counts_match_a_direct_computation():
    model = f.shape_biases(f.mlp(style="layer"), on=0.2, dead=0.2)
    x = f.data(1000)
    stats = linprune.measure(model, x, batch_size=64, verbose=0)
    assert stats.sites == ("relu0", "relu1", "relu2")
    assert stats.rows == 1000
    for name, want in zip(stats.sites, reference_counts(model, x, stats.sites)):
        np.testing.assert_array_equal(stats.counts[name], want)
        assert stats.counts[name].dtype == np.int64
        np.testing.assert_allclose(stats.rates[name], want / 1000)


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, size):
        super().__init__()
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return int(np.ceil(len(self.x) / self.size))

    def __getitem__(self, i):
        s = slice(i * self.size, (i + 1) * self.size)
        return self.x[s], self.y[s]


@pytest.mark.parametrize(
    "kind",
    [
        "numpy",
        "dataframe",
        "dataset_batched_xy",
        "dataset_unbatched",
        "dataset_xyw",
        "pydataset",
    ],
)
def test_every_data_type_gives_the_same_counts(kind):
    model = f.shape_biases(f.mlp(), on=0.2, dead=0.2)
    x = f.data(300)
    y = np.zeros(300, "float32")
    data = {
        "numpy": x,
        "dataframe": pd.DataFrame(x),
        "dataset_batched_xy": tf.data.Dataset.from_tensor_slices((x, y)).batch(32),
        "dataset_unbatched": tf.data.Dataset.from_tensor_slices(x),
        "dataset_xyw": tf.data.Dataset.from_tensor_slices((x, y, y)).batch(7),
        "pydataset": Batches(x, y, 50),
    }[kind]
    stats = linprune.measure(model, data, verbose=0)
    ref = linprune.measure(model, x, verbose=0)
    assert stats.rows == 300
    for k in ref.sites:
        np.testing.assert_array_equal(stats.counts[k], ref.counts[k])


def test_multi_input_model_with_list_and_dict():
    a, b = keras.Input((3,), name="a"), keras.Input((4,), name="b")
    h = keras.layers.Dense(10, activation="relu", name="h")(
        keras.layers.Concatenate()([a, b])
    )
    model = keras.Model({"a": a, "b": b}, keras.layers.Dense(2)(h))
    xa, xb = f.data(100, 3), f.data(100, 4, seed=2)
    s1 = linprune.measure(model, {"a": xa, "b": xb}, verbose=0)
    probe = keras.Model(model.inputs, model.get_layer("h").output)
    want = np.count_nonzero(probe.predict({"a": xa, "b": xb}, verbose=0) > 0, axis=0)
    np.testing.assert_array_equal(s1.counts["h"], want)


def test_stats_dataframe_and_save_load(tmp_path):
    model = f.shape_biases(f.mlp())
    stats = linprune.measure(model, f.data(), verbose=0)
    frame = stats.to_dataframe()
    assert list(frame.columns) == ["site", "neuron", "rate", "count"]
    assert len(frame) == sum(c.size for c in stats.counts.values())
    path = tmp_path / "stats.npz"
    stats.save(path)
    again = linprune.ActivationStats.load(path)
    assert again.sites == stats.sites and again.rows == stats.rows
    for k in stats.sites:
        np.testing.assert_array_equal(again.counts[k], stats.counts[k])
    small, _ = linprune.apply(model, again, verbose=0)  # fingerprint kept
    assert small.count_params() <= model.count_params()


def test_progress_bar_is_printed(capsys):
    linprune.measure(f.mlp(), f.data(100), batch_size=10, verbose=1)
    assert "10/10" in capsys.readouterr().out


def test_input_model_unchanged_by_measure():
    model = f.shape_biases(f.mlp())
    before = f.weights_of(model)
    linprune.measure(model, f.data(), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(model.outputs) == 1


def test_measuring_models_in_a_row_warns_of_no_retracing():
    # A notebook compressing one model after another: each counter traces
    # its step once, which TensorFlow must not report as frequent retracing.
    records = f.LogRecords()
    tf.get_logger().addHandler(records)
    try:
        for width in range(8, 15):
            model = f.mlp((6, width, 3))
            linprune.measure(model, f.data(32, 6), verbose=0)
    finally:
        tf.get_logger().removeHandler(records)
    assert not [m for m in records.messages if "retracing" in m]


def test_moments_must_be_a_flag():
    model, x = f.one_site_dense()
    with pytest.raises(TypeError, match="moments"):
        linprune.measure(model, x, moments="yes", verbose=0)
