"""`keras_linprune.bench` and `linprune bench`: what they measure and how
they report it (no assertion on how fast anything is)."""

import os
import pathlib

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune import bench, export
from tests import factories as f


@pytest.fixture(scope="module")
def pair():
    model = f.shape_biases(f.mlp((10, 64, 64, 3)), on=0.4, dead=0.2)
    small, _ = linprune.apply(model, f.data(256, 10), verbose=0)
    return model, small


def test_example_inputs_follow_the_model_inputs():
    a = keras.Input((3,), name="a")
    ids = keras.Input((4,), dtype="int32", name="ids")
    h = keras.layers.Embedding(10, 2)(ids)
    y = keras.layers.Dense(1)(
        keras.layers.Concatenate()([a, keras.layers.Flatten()(h)])
    )
    x = bench.example_inputs(keras.Model({"a": a, "ids": ids}, y), 5)
    assert set(x) == {"a", "ids"}
    assert x["a"].shape == (5, 3) and x["a"].dtype == np.float32
    assert x["ids"].dtype == np.int32 and not x["ids"].any()


def test_example_inputs_need_fixed_shapes():
    x = keras.Input((None, 3))
    model = keras.Model(x, keras.layers.Dense(2)(x))
    with pytest.raises(ValueError, match="fixed shapes.*Received: input"):
        bench.example_inputs(model, 2)


def test_latency_has_one_figure_per_batch_size(pair):
    model, _ = pair
    times = bench.latency(model, batch_sizes=(1, 8), repeats=1)
    assert sorted(times) == ["compiled_b1_ms", "compiled_b8_ms", "eager_b1_ms"]
    assert all(v > 0 for v in times.values())
    with pytest.raises(ValueError, match="repeats >= 1.*Received"):
        bench.latency(model, repeats=0)


def test_compare_puts_the_models_side_by_side(pair, tmp_path):
    model, small = pair
    table = bench.compare(model, small, batch_sizes=(4,), repeats=1).set_index(
        "measure"
    )
    assert table.loc["params", "original"] == model.count_params()
    assert table.loc["params", "compressed"] == small.count_params()
    small.save(tmp_path / "small.keras")
    assert table.loc["keras_bytes", "compressed"] == os.path.getsize(
        tmp_path / "small.keras"
    )
    ratio = (
        table.loc["keras_bytes", "compressed"] / table.loc["keras_bytes", "original"]
    )
    assert table.loc["keras_bytes", "ratio"] == pytest.approx(ratio)
    assert "compiled_b4_ms" in table.index and "tflite_b1_ms" not in table.index


@pytest.mark.slow
def test_tflite_and_saved_model_figures(pair, tmp_path):
    model, _ = pair
    row = bench.describe(
        model, batch_sizes=(1,), repeats=1, tflite=True, saved_model=True
    )
    assert row["tflite_b1_ms"] > 0
    export.export_tflite(model, tmp_path / "m.tflite")
    assert row["tflite_bytes"] == os.path.getsize(tmp_path / "m.tflite")
    folder = export.export_saved_model(model, tmp_path / "served")
    on_disk = sum(
        p.stat().st_size for p in pathlib.Path(folder).rglob("*") if p.is_file()
    )
    assert row["saved_model_bytes"] == pytest.approx(on_disk, rel=0.01)
