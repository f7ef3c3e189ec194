# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-linprune/keras_linprune/blob/main/tutorials/03_deploy.ipynb)
#
# # Deploy: TF Serving, TFLite and ONNX
#
# Compress a model, export it as a SavedModel for TF Serving (with the REST request a
# client would send), as TFLite and as ONNX, check that every artefact computes what the
# Keras model computes, and compare size and latency before and after. About two minutes
# on a CPU runtime.

# %%
# Installs keras_linprune unless this environment has it (on Colab, say): from
# the checkout this notebook sits in, else from $KERAS_LINPRUNE_SOURCE (a wheel
# or a source folder, see the README's "Tutorials"), else from the repository.
import importlib.util
import os
import pathlib
import subprocess
import sys

if importlib.util.find_spec("keras_linprune") is None:
    source = os.environ.get("KERAS_LINPRUNE_SOURCE")
    checkout = pathlib.Path.cwd().parent
    if source is None and (checkout / "setup.py").exists():
        source = str(checkout)
    if source is not None and pathlib.Path(source).exists():
        source = pathlib.Path(source).resolve().as_uri()
    source = source or "git+https://github.com/keras-linprune/keras_linprune"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            f"keras_linprune[plot,onnx] @ {source}",
        ],
        check=True,
    )
    importlib.invalidate_caches()

# %%
import json
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

import keras_linprune as linprune
from keras_linprune import bench, export
from keras_linprune.examples import demo

x_train, y_train, x_test, y_test = demo.load_digits_split()
model = demo.build_mlp(64, 10)
model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
small, report = linprune.apply(model, x_train, threshold=0.95, verbose=0)
print(report.linprune.summary())
expected = small.predict(x_test, verbose=0)
folder = tempfile.mkdtemp()

# %% [markdown]
# ## 1. A SavedModel for TF Serving
# `export_saved_model` writes TF Serving's layout, `<base>/<version>/saved_model.pb`
# (the next version by default), atomically. Its `serving_default` signature keeps the
# model's input and output names, so clients need no change.

# %%
path = export.export_saved_model(small, os.path.join(folder, "digits"))
print("written to", path)
serving = tf.saved_model.load(path).signatures["serving_default"]
print("inputs:", list(serving.structured_input_signature[1]))
print("outputs:", list(serving.structured_outputs))

# %% [markdown]
# TF Serving would serve that folder with
#
# ```bash
# docker run -p 8501:8501 --mount type=bind,source="$PWD/digits",target=/models/digits \
#     -e MODEL_NAME=digits tensorflow/serving
# ```
#
# and a client would send the body below to `POST /v1/models/digits:predict`. Here we
# feed the same body to the signature, as TF Serving does.

# %%
body = export.rest_request(small, x_test[:3])
print(json.dumps(body)[:120], "...")
(name,) = serving.structured_input_signature[1]
served = serving(**{name: tf.constant(body["instances"], tf.float32)})
served = next(iter(served.values())).numpy()
np.testing.assert_allclose(served, expected[:3], atol=1e-5)
print("TF Serving's answer equals the Keras model's")

# %% [markdown]
# ## 2. TFLite
# Converted through the SavedModel, so the TFLite model has the same signature names;
# TensorFlow ops are used only if the builtin operators do not suffice.

# %%
tflite_path = os.path.join(folder, "digits.tflite")
print("operators:", export.export_tflite(small, tflite_path))
runner = export.tflite_runner(tflite_path)  # LiteRT's interpreter if installed
lite = next(iter(runner(**{name: x_test}).values()))
np.testing.assert_allclose(lite, expected, atol=1e-5)
print("TFLite's answer equals the Keras model's")

# %% [markdown]
# ## 3. ONNX
# Through tf2onnx (`pip install "keras_linprune[onnx]"`); the ONNX graph's inputs and
# outputs carry the model's names.

# %%
import onnxruntime  # noqa: E402

onnx_path = os.path.join(folder, "digits.onnx")
export.export_onnx(small, onnx_path)
session = onnxruntime.InferenceSession(onnx_path)
(onnx_out,) = session.run(None, {session.get_inputs()[0].name: x_test})
np.testing.assert_allclose(onnx_out, expected, atol=1e-5)
print("ONNX Runtime's answer equals the Keras model's")

# %% [markdown]
# ## 4. Size and latency, before and after
# `bench.compare` (also `linprune bench original.keras small.keras`) measures both
# models in this process: parameters, operations, file sizes, and the best CPU time of
# the compiled call at batch 1 and 256, an eager call and the TFLite interpreter.

# %%
table = bench.compare(model, small, tflite=True, repeats=5)
table

# %%
shown = table.set_index("measure").ratio.drop("operations")
ax = shown.plot.barh(color=["#2e7d32" if r < 1 else "#c62828" for r in shown])
ax.axvline(1.0, color="grey", linestyle="--")
ax.set_xlabel("compressed / original")
plt.tight_layout()
