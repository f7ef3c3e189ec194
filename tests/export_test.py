"""Deployment files of a compressed model: each artefact computes what the
Keras model computes, under the original model's input and output names."""

import json
import os
import shutil
import subprocess
import sys
import warnings

import keras
import pytest
import tensorflow as tf

import keras_linprune as linprune
from keras_linprune import export
from tests import factories as f


@pytest.fixture(scope="module")
def compressed():
    """A two-input, two-output model and its compressed version."""
    keras.utils.set_random_seed(0)
    a, b = keras.Input((6,), name="features"), keras.Input((3,), name="extra")
    h = keras.layers.Dense(16, activation="relu", name="hidden")(a)
    h = keras.layers.Concatenate()([h, b])
    outputs = {
        "logits": keras.layers.Dense(3, name="logits")(h),
        "score": keras.layers.Dense(1, name="score")(h),
    }
    model = f.shape_biases(keras.Model({"features": a, "extra": b}, outputs))
    x = {"features": f.data(), "extra": f.data(seed=2)[:, :3]}
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    assert report.folded.any()
    return model, small, x


def test_saved_model_in_tf_serving_layout(tmp_path, compressed):
    model, small, x = compressed
    base = tmp_path / "served"
    first = export.export_saved_model(small, base)
    second = export.export_saved_model(small, base)
    assert [first, second] == [str(base / "1"), str(base / "2")]
    assert os.path.isfile(base / "1" / "saved_model.pb")
    assert sorted(os.listdir(base)) == ["1", "2"]  # no temporary folder left
    fn = tf.saved_model.load(first).signatures["serving_default"]
    assert sorted(fn.structured_input_signature[1]) == ["extra", "features"]
    assert sorted(fn.structured_outputs) == ["logits", "score"]
    out = fn(**{k: tf.constant(v) for k, v in x.items()})
    expected = model.predict(x, verbose=0)
    for name in ("logits", "score"):
        f.assert_close(out[name].numpy(), expected[name], atol=1e-5)


def test_rest_request_maps_onto_the_signature(tmp_path, compressed):
    model, small, x = compressed
    path = export.export_saved_model(small, tmp_path / "served", version=7)
    body = json.loads(json.dumps(export.rest_request(small, x)))
    assert len(body["instances"]) == len(x["features"])
    assert set(body["instances"][0]) == {"features", "extra"}
    # What TF Serving does with the body: stack each named input over rows.
    fn = tf.saved_model.load(path).signatures["serving_default"]
    columns = {
        name: tf.constant([row[name] for row in body["instances"]], tf.float32)
        for name in fn.structured_input_signature[1]
    }
    f.assert_close(
        fn(**columns)["score"].numpy(), model.predict(x, verbose=0)["score"], atol=1e-5
    )


def test_saved_model_cli_lists_serving_default(tmp_path, compressed):
    _, small, _ = compressed
    path = export.export_saved_model(small, tmp_path / "served")
    # Beside this interpreter (a virtual environment's bin/, even when it
    # is not activated), else on the PATH.
    beside = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    tool = beside if os.path.exists(beside) else shutil.which("saved_model_cli")
    shown = subprocess.run(
        [
            tool,
            "show",
            "--dir",
            path,
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "inputs['features']" in shown and "outputs['logits']" in shown


def test_an_existing_version_is_kept_unless_overwrite(tmp_path, compressed):
    _, small, _ = compressed
    base = tmp_path / "served"
    export.export_saved_model(small, base, version=3)
    marker = base / "3" / "marker"
    marker.write_text("old")
    with pytest.raises(ValueError, match="version 3 exists"):
        export.export_saved_model(small, base, version=3)
    assert marker.read_text() == "old"
    export.export_saved_model(small, base, version=3, overwrite=True)
    assert not marker.exists() and os.path.isfile(base / "3" / "saved_model.pb")
    assert sorted(os.listdir(base)) == ["3"]


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(version=0), "positive integer"),
        (dict(version="1"), "positive integer"),
    ],
)
def test_bad_saved_model_arguments(tmp_path, compressed, kwargs, error):
    _, small, _ = compressed
    with pytest.raises((ValueError, TypeError), match=error):
        export.export_saved_model(small, tmp_path / "s", **kwargs)
    with pytest.raises(TypeError, match="Received: str"):
        export.export_saved_model("model.keras", tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_tflite_file_computes_the_model_under_its_names(tmp_path, compressed):
    model, small, x = compressed
    path = tmp_path / "small.tflite"
    assert export.export_tflite(small, path) == "builtins"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation warning reaches users
        runner = export.tflite_runner(path)
    outputs = runner(**x)
    assert sorted(outputs) == ["logits", "score"]
    expected = model.predict(x, verbose=0)
    for name in outputs:
        f.assert_close(outputs[name], expected[name], atol=1e-4)
    with pytest.raises(ValueError, match="exists"):
        export.export_tflite(small, path)
    with pytest.raises(ValueError, match="end in .tflite"):
        export.export_tflite(small, tmp_path / "small.bin")


def test_tflite_falls_back_to_tensorflow_ops_for_an_lstm(tmp_path):
    keras.utils.set_random_seed(0)
    x_in = keras.Input((5, 3))
    h = keras.layers.LSTM(4)(keras.layers.Dense(8, activation="relu")(x_in))
    model = keras.Model(x_in, keras.layers.Dense(2)(h))
    assert export.export_tflite(model, tmp_path / "lstm.tflite") == "select"
    with pytest.raises(Exception):  # noqa: B017 - the converter's own error
        export.export_tflite(model, tmp_path / "lstm2.tflite", ops="builtins")
    assert not (tmp_path / "lstm2.tflite").exists()


def test_onnx_file_computes_the_model_with_its_names(tmp_path, compressed):
    import onnxruntime

    model, small, x = compressed
    path = tmp_path / "small.onnx"
    export.export_onnx(small, path)
    session = onnxruntime.InferenceSession(str(path))
    assert sorted(i.name for i in session.get_inputs()) == ["extra", "features"]
    names = [o.name for o in session.get_outputs()]
    assert sorted(names) == ["logits", "score"]
    outputs = dict(zip(names, session.run(None, x)))
    expected = model.predict(x, verbose=0)
    for name in names:
        f.assert_close(outputs[name], expected[name], atol=1e-5)
