# %% [markdown]
# # Choosing what to fold: sweeps, size targets, accuracy guards, refit, certification
#
# Runs offline on scikit-learn's digits in about a minute. Open it as a notebook with
# jupytext, or run it as a script (the figures are written to /tmp).

# %%
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import keras_linprune as linprune  # noqa: E402
from keras_linprune.examples import demo  # noqa: E402

x_train, y_train, x_test, y_test = demo.load_digits_split()
model = demo.build_mlp(64, 10)  # the paper's in-64-128-128-256-256-out MLP
model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
stats = linprune.measure(model, x_train, verbose=0)

# %% [markdown]
# ## 1. Sweep the threshold once, plot the paper's three figures

# %%
table = linprune.sweep(
    model,
    stats,
    eval_data=(x_test, y_test),
    thresholds=[1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5],
)
print(table[["threshold", "total_params", "ratio", "accuracy"]].to_string(index=False))
for name, draw in [
    ("weights", linprune.plot.weights_vs_threshold),
    ("accuracy", lambda t: linprune.plot.metric_vs_threshold(t, "accuracy")),
    ("tradeoff", lambda t: linprune.plot.metric_vs_weights(t, "accuracy")),
]:
    draw(table).figure.savefig(f"/tmp/linprune_{name}.png")

# %% [markdown]
# ## 2. Ask for a size, or for an accuracy budget

# %%
half, report = linprune.apply(model, stats, target_size=0.5)
print(
    "50 % target: threshold",
    round(report.attrs["threshold"], 3),
    "params",
    f"{half.count_params():,}",
)

guarded, report = linprune.apply(
    model, x_train, max_metric_drop=0.01, eval_data=(x_test, y_test), metric="accuracy"
)
print(
    "accuracy guard:",
    round(report.attrs["metric_before"], 4),
    "->",
    round(report.attrs["metric_after"], 4),
    "with",
    f"{guarded.count_params():,}",
    "params",
)

# %% [markdown]
# ## 3. Refit keeps more accuracy at the same size

# %%
for refit in (False, True):
    small, _ = linprune.apply(model, x_train, threshold=0.8, refit=refit, verbose=0)
    small.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    acc = small.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    print(
        f"threshold 0.8, refit={refit}: {small.count_params():,} params, "
        f"accuracy {acc:.4f}"
    )

# %% [markdown]
# ## 4. Certified folding: exact on a whole input box
# Pixels lie in [0, 1]; only neurons proven affine on that box fold, so the result is
# exact for every image, not only the calibration ones. On a trained network such proofs
# are rare over a box this large (the paper found no provably linear neurons in most
# models): expect few or no folds here, and an exact copy.

# %%
certified, report = linprune.apply(model, None, input_box=(0.0, 1.0))
print(report[["site", "linear", "dead", "certified"]].to_string(index=False))
fresh = np.random.default_rng(0).uniform(0, 1, (100, 64)).astype("float32")
print(
    "max |diff| on random images:",
    float(
        np.abs(
            certified.predict(fresh, verbose=0) - model.predict(fresh, verbose=0)
        ).max()
    ),
)
print(linprune.summary(report))
