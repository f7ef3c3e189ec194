# %% [markdown]
# # keras_linprune quickstart
#
# Train a small MLP, measure its activation rates once, and compress it at several
# thresholds. Runs offline (scikit-learn's bundled digits) in well under a minute.
# Open it as a notebook with jupytext, or run it as a script.

# %%
import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_linprune as linprune

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)

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
model.fit(x_train, y_train, epochs=5, verbose=0)

# %% [markdown]
# ## 1. Measure once
# One streaming pass; the statistics hold per-neuron activation counts.

# %%
stats = linprune.measure(model, x_train, verbose=0)
rates = stats.to_dataframe()
print(rates.groupby("site").rate.describe())

# %% [markdown]
# ## 2. Compress
# `threshold=1.0` (the default) is exact on the calibration data. Lower thresholds fold
# neurons that are active on most, not all, rows.

# %%
for threshold in (1.0, 0.99, 0.95, 0.9):
    small, report = linprune.apply(model, stats, threshold=threshold)
    acc = small.evaluate(x_test, y_test, verbose=0)[1]
    print(
        f"threshold {threshold}: {small.count_params():,} params "
        f"({report.attrs['ratio']:.1%}), test accuracy {acc:.4f}"
    )

# %% [markdown]
# ## 3. Inspect and save
# The report has one row per site; the summary reads like `model.summary()`.

# %%
small, report = linprune.apply(model, stats, threshold=0.95)
print(report.linprune.summary())
small.save("/tmp/digits_small.keras")
again = keras.saving.load_model("/tmp/digits_small.keras")
np.testing.assert_allclose(
    again.predict(x_test, verbose=0), small.predict(x_test, verbose=0), atol=1e-6
)
