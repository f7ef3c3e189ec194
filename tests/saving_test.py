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
