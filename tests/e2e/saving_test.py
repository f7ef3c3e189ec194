import keras
import numpy as np
import tensorflow as tf

import keras_linprune as linprune
from tests import factories as f


def compressed():
    model = f.shape_biases(f.mlp((6, 32, 24, 16, 3), dropout=True))
    x = f.data()
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    assert report["linear"].sum() > 0
    return model, small, x


def test_save_and_load_without_custom_objects(tmp_path):
    model, small, x = compressed()
    path = tmp_path / "small.keras"
    small.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), small.predict(x, verbose=0), atol=1e-6
    )
    f.assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    builtin = {c for c in dir(keras.layers)}
    assert all(type(layer).__name__ in builtin for layer in loaded.layers)


def test_export_saved_model_serving_default(tmp_path):
    model, small, x = compressed()
    path = str(tmp_path / "served")
    small.export(path)
    served = tf.saved_model.load(path)
    fn = served.signatures["serving_default"]
    out = fn(tf.constant(x))
    (y,) = out.values()
    f.assert_close(y.numpy(), model.predict(x, verbose=0), atol=1e-5)


def test_tflite_conversion():
    model, small, x = compressed()
    converter = tf.lite.TFLiteConverter.from_keras_model(small)
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    f.assert_close(
        interpreter.get_tensor(out["index"]), model.predict(x, verbose=0), atol=1e-4
    )


def test_serving_signature_names_equal_the_originals(tmp_path):
    x_in = keras.Input((6,), name="features")
    h = keras.layers.Dense(16, activation="relu", name="hidden")(x_in)
    outputs = {
        "logits": keras.layers.Dense(3, name="logits")(h),
        "score": keras.layers.Dense(1, name="score")(h),
    }
    model = f.shape_biases(keras.Model(x_in, outputs))
    small, report = linprune.apply(model, f.data(), layer_threshold=0, verbose=0)
    assert report.folded.any()
    signatures = []
    for m, name in ((model, "orig"), (small, "small")):
        m.export(str(tmp_path / name), verbose=False)
        fn = tf.saved_model.load(str(tmp_path / name)).signatures["serving_default"]
        signatures.append(
            (sorted(fn.structured_input_signature[1]), sorted(fn.structured_outputs))
        )
    assert signatures[0] == signatures[1]
    assert signatures[1][0] == ["features"]


def test_lstm_model_converts_to_tflite_like_the_original():
    """Both need TensorFlow select ops for the LSTM; the compressed model
    must convert whenever the original does."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((5, 3))
    h = keras.layers.Dense(8, activation="relu", name="proj")(x_in)
    h = keras.layers.LSTM(4)(h)
    h = keras.layers.Dense(8, activation="relu", name="head")(h)
    model = f.shape_biases(keras.Model(x_in, keras.layers.Dense(2, name="out")(h)))
    x = np.random.default_rng(0).normal(size=(16, 5, 3)).astype("float32")
    small, _ = linprune.apply(model, x, verbose=0)
    for m in (model, small):
        converter = tf.lite.TFLiteConverter.from_keras_model(m)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS,
            tf.lite.OpsSet.SELECT_TF_OPS,
        ]
        converter._experimental_lower_tensor_list_ops = False
        assert len(converter.convert()) > 0


def test_layers_keep_their_configured_initializers():
    """The rebuild builds layers with zero initializers (their weights are
    set right after) and restores the configured ones: a compressed model
    re-initialised or saved sees the user's choice."""
    keras.utils.set_random_seed(0)
    he, constant = "he_normal", keras.initializers.Constant(0.1)
    x_in = keras.Input((6,))
    h = keras.layers.Dense(
        32,
        activation="relu",
        kernel_initializer=he,
        bias_initializer=constant,
        name="d0",
    )(x_in)
    h = keras.layers.BatchNormalization(gamma_initializer="ones", name="bn")(h)
    h = keras.layers.Dense(16, activation="relu", kernel_initializer=he, name="d1")(h)
    model = f.shape_biases(keras.Model(x_in, keras.layers.Dense(3, name="out")(h)))
    small, report = linprune.apply(model, f.data(), layer_threshold=0, verbose=0)
    assert report.linear.sum() > 0
    for layer in small.layers:
        if layer.name not in ("d0", "bn", "d1", "out"):
            continue
        want = model.get_layer(layer.name).get_config()
        got = layer.get_config()
        for key in want:
            if key.endswith("_initializer"):
                assert got[key] == want[key], (layer.name, key)
    assert small.get_layer("d0").get_config()["kernel_initializer"]["class_name"] == (
        "HeNormal"
    )


def test_zero_initialized_restores_the_initializers_on_error():
    from keras_linprune.graph import keras_internals

    layer = keras.layers.Dense(3, kernel_initializer="he_normal")
    try:
        with keras_internals.zero_initialized([layer]):
            assert isinstance(layer.kernel_initializer, keras.initializers.Zeros)
            raise RuntimeError("build failed")
    except RuntimeError:
        pass
    assert isinstance(layer.kernel_initializer, keras.initializers.HeNormal)


def unnamed_models():
    """Issue 20: models whose inputs have no name (tensor `keras_tensor_<n>`,
    layer `input_layer_<n>`): Functional, Sequential, and a Functional
    around a nested Sequential."""
    keras.utils.set_random_seed(0)
    x = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu")(x)
    functional = keras.Model(x, keras.layers.Dense(3)(h))
    sequential = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3),
        ]
    )
    inner = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3),
        ]
    )
    y = keras.Input((6,))
    nested = keras.Model(y, inner(keras.layers.Dense(16, activation="relu")(y)))
    return {"functional": functional, "sequential": sequential, "nested": nested}


def serve(path, body):
    """What TF Serving does with a REST `{"inputs": {...}}` body: call the
    `serving_default` signature with its keys."""
    fn = tf.saved_model.load(path).signatures["serving_default"]
    inputs = {k: tf.constant(v, tf.float32) for k, v in body["inputs"].items()}
    return fn(**inputs)


def test_a_request_to_the_original_is_served_by_the_compressed_export(tmp_path):
    x = f.data()
    for kind, model in unnamed_models().items():
        f.pin(model)  # neurons always off, linear or on: they fold or go
        small, report = linprune.apply(model, x, verbose=0)
        assert small.count_params() < model.count_params(), kind
        assert [t.name for t in small.inputs] == [t.name for t in model.inputs], kind
        original, compressed = tmp_path / f"{kind}_original", tmp_path / f"{kind}_small"
        model.export(str(original), verbose=False)
        small.export(str(compressed), verbose=False)
        key = model.inputs[0].name  # the request names the original's input
        body = {"inputs": {key: x[:4].tolist()}}
        want, got = serve(str(original), body), serve(str(compressed), body)
        assert sorted(want) == sorted(got), kind
        for name in want:
            f.assert_close(got[name].numpy(), want[name].numpy(), atol=1e-5)


def test_tflite_input_names_equal_the_originals():
    model = unnamed_models()["functional"]
    small, _ = linprune.apply(model, f.data(), verbose=0)
    names = []
    for m in (model, small):
        converter = tf.lite.TFLiteConverter.from_keras_model(m)
        interpreter = tf.lite.Interpreter(model_content=converter.convert())
        names.append([d["name"] for d in interpreter.get_input_details()])
    assert names[0] == names[1]
