# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-linprune/keras_linprune/blob/main/tutorials/01_quickstart.ipynb)
#
# # keras_linprune quickstart
#
# Train a small MLP on scikit-learn's digits, measure its activation rates once,
# compress it at several thresholds, inspect the report and save the result. Runs on a
# CPU runtime in about a minute.

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
            f"keras_linprune[plot] @ {source}",
        ],
        check=True,
    )
    importlib.invalidate_caches()

# %%
import keras
import numpy as np

import keras_linprune as linprune
from keras_linprune.examples import demo

x_train, y_train, x_test, y_test = demo.load_digits_split()  # ships with scikit-learn
keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((64,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=10, verbose=0)
print(
    f"{model.count_params():,} parameters, test accuracy "
    f"{model.evaluate(x_test, y_test, verbose=0)[1]:.4f}"
)

# %% [markdown]
# ## 1. Measure once
# One streaming pass over the calibration data counts, per neuron, how often it is
# active. The statistics are reused by every compression below.

# %%
stats = linprune.measure(model, x_train, verbose=0)
stats.to_dataframe().groupby("site").rate.describe()

# %% [markdown]
# ## 2. Compress
# `threshold=1.0` (the default) is exact on the calibration data: neurons active on
# every row fold into shortcuts, neurons never active leave. Lower thresholds fold
# neurons active on most rows, trading accuracy for size.

# %%
rows = []
for threshold in (1.0, 0.99, 0.95, 0.9):
    small, report = linprune.apply(model, stats, threshold=threshold)
    accuracy = small.evaluate(x_test, y_test, verbose=0)[1]
    rows.append(
        dict(
            threshold=threshold,
            params=small.count_params(),
            ratio=report.attrs["ratio"],
            accuracy=accuracy,
        )
    )
import pandas as pd  # noqa: E402

results = pd.DataFrame(rows)
results

# %%
exact, report = linprune.apply(model, stats)
gap = np.abs(exact.predict(x_train, verbose=0) - model.predict(x_train, verbose=0))
gap = gap.max()
print(f"threshold 1.0: largest output difference on the calibration data {gap:.1e}")
assert gap < 1e-4

# %% [markdown]
# ## 3. Inspect
# The report has one row per fold site, and reads like `model.summary()`; the plot
# shows where folding happened.

# %%
small, report = linprune.apply(model, stats, threshold=0.95)
print(report.linprune.summary())
linprune.plot.site_breakdown(report)
# %% [markdown]
# ## 4. Save and reload
# The compressed model is a plain Keras model of built-in layers.

# %%
import os  # noqa: E402
import tempfile  # noqa: E402

path = os.path.join(tempfile.mkdtemp(), "digits_small.keras")
small.save(path)
again = keras.saving.load_model(path)
np.testing.assert_allclose(
    again.predict(x_test, verbose=0), small.predict(x_test, verbose=0), atol=1e-6
)
print(f"saved and reloaded {path}: {again.count_params():,} parameters")
