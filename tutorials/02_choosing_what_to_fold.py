# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-linprune/keras_linprune/blob/main/tutorials/02_choosing_what_to_fold.ipynb)
#
# # Choosing what to fold: sweeps, size targets, accuracy guards, refit, certification
#
# How much to fold is a trade-off between size and accuracy. This notebook sweeps the
# threshold (the paper's three figures), asks for a size or an accuracy budget, refits
# shortcuts, and proves folds on a whole input box. About two minutes on a CPU runtime.

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
import numpy as np

import keras_linprune as linprune
from keras_linprune.examples import demo

x_train, y_train, x_test, y_test = demo.load_digits_split()
model = demo.build_mlp(64, 10)  # the paper's in-64-128-128-256-256-out MLP
model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
stats = linprune.measure(model, x_train, verbose=0)

# %% [markdown]
# ## 1. Sweep the threshold once; the paper's three figures
# One measurement serves every threshold; each row is a compressed and evaluated model.

# %%
table = linprune.sweep(
    model,
    stats,
    eval_data=(x_test, y_test),
    thresholds=[1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5],
)
table[["threshold", "total_params", "ratio", "total_macs", "accuracy"]]

# %%
linprune.plot.weights_vs_threshold(table)
# %%
linprune.plot.metric_vs_threshold(table, "accuracy")
# %%
linprune.plot.metric_vs_weights(table, "accuracy")
# %% [markdown]
# ## 2. Ask for a size, or for an accuracy budget
# A size target searches the thresholds exactly by counting parameters (no model is
# built); the accuracy guard evaluates candidates and keeps the smallest one within
# the allowed drop.

# %%
half, report = linprune.apply(model, stats, target_size=0.5)
print(
    f"50 % target: threshold {report.attrs['threshold']:.3f}, "
    f"{half.count_params():,} parameters"
)
assert half.count_params() <= 0.5 * model.count_params()

guarded, report = linprune.apply(
    model,
    x_train,
    max_metric_drop=0.01,
    eval_data=(x_test, y_test),
    metric="accuracy",
    verbose=0,
)
print(
    f"accuracy guard: {report.attrs['metric_before']:.4f} -> "
    f"{report.attrs['metric_after']:.4f} with {guarded.count_params():,} parameters"
)
assert report.attrs["metric_after"] >= report.attrs["metric_before"] - 0.01

# %% [markdown]
# ## 3. Refit: shortcuts fitted to what the neurons computed
# Below threshold 1.0, `refit=True` fits each shortcut by least squares to what the
# folded neurons really computed, at the same size. Just below 1.0 the plain fold is
# exact on almost every row and refit has little to gain (it may even lose a little:
# it minimises each layer's error, not the output's); further down it keeps much
# more of the original's behaviour.


# %%
def compare(small, label):
    accuracy = small.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    gap = np.abs(small.predict(x_test, verbose=0) - model.predict(x_test, verbose=0))
    print(
        f"{label}: {small.count_params():,} parameters, accuracy {accuracy:.4f}, "
        f"mean output gap {gap.mean():.4f}"
    )


for threshold in (0.8, 0.4):
    for refit in (False, True):
        small, _ = linprune.apply(
            model, x_train, threshold=threshold, refit=refit, verbose=0
        )
        compare(small, f"threshold {threshold}, refit={refit}")

# %% [markdown]
# Refit needs the data, or statistics carrying the sums its least squares needs:
# `measure(..., moments=True)` gathers them in its one pass, and every later `apply`,
# size target or sweep on those statistics refits without reading the data again
# (`stats.moments_nbytes` says what they take).

# %%
rich = linprune.measure(model, x_train, moments=True, verbose=0)
print(f"second moments: {rich.moments_nbytes / 1e6:.2f} MB")
for refit in (False, True):
    small, _ = linprune.apply(model, rich, target_size=0.1, refit=refit)
    compare(small, f"10 % target from stats, refit={refit}")

# %% [markdown]
# ## 4. Certified folding: exact on a whole input box
# Pixels lie in [0, 1]; only neurons proven affine on that box fold, so the result is
# exact for every image, not only the calibration ones. On a trained network such
# proofs are rare over a box this large: expect few or no folds, and an exact copy.

# %%
certified, report = linprune.apply(model, None, input_box=(0.0, 1.0))
fresh = np.random.default_rng(0).uniform(0, 1, (100, 64)).astype("float32")
gap = np.abs(certified.predict(fresh, verbose=0) - model.predict(fresh, verbose=0))
gap = gap.max()
print(f"largest difference on random images: {gap:.1e}")
assert gap < 1e-4
report[["site", "linear", "dead", "certified"]]
