# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-linprune/keras_linprune/blob/main/tutorials/04_convolutional_model.ipynb)
#
# # A convolutional model: dead and linear channels
#
# Train a small CNN on scikit-learn's 8x8 digits, see which channels are dead or linear,
# compress it exactly, then fold more and fine-tune. About a minute on a CPU runtime.

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
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_linprune as linprune

images, labels = load_digits(return_X_y=True)
images = (images / 16.0).astype("float32").reshape(-1, 8, 8, 1)
x_train, x_test, y_train, y_test = train_test_split(
    images, labels, test_size=0.3, random_state=0, stratify=labels
)

keras.utils.set_random_seed(0)
L = keras.layers
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        L.Conv2D(32, 3, padding="same", name="conv1"),
        L.BatchNormalization(name="bn1"),
        L.ReLU(name="relu1"),
        L.Conv2D(64, 3, padding="same", name="conv2"),
        L.ReLU(name="relu2"),
        L.Conv2D(32, 1, activation="relu", name="conv3"),
        L.GlobalAveragePooling2D(name="pool"),
        L.Dense(10, activation="softmax", name="probs"),
    ],
    name="digits_cnn",
)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
before = model.evaluate(x_test, y_test, verbose=0)[1]
print(f"{model.count_params():,} parameters, test accuracy {before:.4f}")

# %% [markdown]
# ## 1. Which channels are dead, which are linear?
# A channel is *dead* when its ReLU never fires on the calibration images and *linear*
# when it always does (at every position). Dead channels leave every convolution;
# linear ones fold into a shortcut where the consumer is pointwise (`conv3`, a 1x1
# convolution). BatchNormalization folds into the convolution before it.

# %%
stats = linprune.measure(model, x_train, verbose=0)
small, report = linprune.apply(model, stats)
report[
    [
        "site",
        "consumers",
        "units_before",
        "units_after",
        "linear",
        "dead",
        "macs_before",
        "macs_after",
        "reason",
    ]
]

# %%
linprune.plot.site_breakdown(report)
# %%
gap = np.abs(small.predict(x_train, verbose=0) - model.predict(x_train, verbose=0))
gap = gap.max()
print(
    f"threshold 1.0: {small.count_params():,} parameters "
    f"({report.attrs['ratio']:.1%}), {report.attrs['macs_ratio']:.1%} of the "
    f"multiply-accumulates, largest output difference {gap:.1e}"
)
assert gap < 1e-4

# %% [markdown]
# ## 2. Fold more, then fine-tune
# Below threshold 1.0 channels active on most positions fold too. The compressed model
# is an ordinary Keras model: a few epochs at a low learning rate recover accuracy.

# %%
smaller, report = linprune.apply(model, stats, threshold=0.9)
lossy = smaller.evaluate(x_test, y_test, verbose=0)[1]
smaller.compile(
    keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", metrics=["accuracy"]
)
smaller.fit(x_train, y_train, epochs=3, batch_size=32, verbose=0)
tuned = smaller.evaluate(x_test, y_test, verbose=0)[1]
print(
    f"threshold 0.9: {smaller.count_params():,} parameters "
    f"({report.attrs['ratio']:.1%}); accuracy {before:.4f} -> {lossy:.4f} -> "
    f"{tuned:.4f} after 3 epochs of fine-tuning"
)
