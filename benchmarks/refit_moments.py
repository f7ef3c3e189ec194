"""Refit from second moments: what `measure(moments=True)` costs and saves.

On the paper's largest MLP (784-1024-1024-512-512-256-256-10, 2.8M
parameters) and a small CNN, on generated rows. For each model:

* `measure` with and without `moments=True` (best of `--repeats`, the two
  alternated), and the memory the moments take, per site;
* a refit sweep over `--thresholds` thresholds, without evaluation:
  `sweep(..., refit=True)` (one measuring pass with moments, then no pass
  per threshold) against what it replaces, `apply(model, x, threshold=t,
  refit=True)` per threshold (one counting pass and one refit pass each).
  On generated in-memory rows a pass is cheap; with data read from disk or
  a network, every pass saved weighs more.

Prints tables and writes `benchmarks/results/refit_moments.json`.

Usage:
    python benchmarks/refit_moments.py [--rows 4096] [--thresholds 5]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from measure_speed import build_model  # noqa: E402
from results_file import write_results  # noqa: E402

import keras_linprune as linprune  # noqa: E402


def small_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    h = keras.layers.Conv2D(32, 1, activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(64, 1, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(x, keras.layers.Dense(10)(h), name="cnn_16x16")


def with_active_biases(model, seed=0):
    """Positive biases: most neurons active on most rows, so that every
    threshold folds something."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if getattr(layer, "activation", None) is keras.activations.relu:
            k, b = layer.get_weights()
            layer.set_weights([k, rng.uniform(0.0, 0.3, b.shape).astype("float32")])
    return model


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure_costs(model, x, repeats):
    best = {False: np.inf, True: np.inf}
    stats = None
    for _ in range(repeats):
        for moments in (False, True):
            seconds, out = timed(
                lambda m=moments: linprune.measure(model, x, moments=m, verbose=0)
            )
            best[moments] = min(best[moments], seconds)
            stats = out if moments else stats
    return best, stats


def sweep_costs(model, x, thresholds):
    """Seconds of a refit sweep without evaluation (one measuring pass with
    moments, then plan + solve + rebuild per threshold), and of one
    `apply(..., refit=True)` per threshold (two passes each)."""
    sweep_s, table = timed(
        lambda: linprune.sweep(model, x, thresholds=thresholds, refit=True, verbose=0)
    )

    def per_threshold():
        return [
            linprune.apply(model, x, threshold=t, refit=True, verbose=0)[0]
            for t in thresholds
        ]

    applies_s, models = timed(per_threshold)
    for row, small in zip(table.itertuples(), models):
        assert row.total_params == small.count_params()
    return sweep_s, applies_s, table


def report(model, x, args):
    thresholds = list(np.round(np.linspace(0.8, 1.0, args.thresholds), 3))
    best, stats = measure_costs(model, x, args.repeats)
    sweep_s, applies_s, table = sweep_costs(model, x, thresholds)
    print(f"\n{model.name}: {model.count_params():,} params, {len(x):,} rows")
    print(f"{'site':<14} {'features':>9} {'neurons':>8} {'moments MB':>11}")
    sites = []
    for site, m in stats.moments.items():
        features = m.gram.shape[0] - 1
        print(
            f"{site:<14} {features:>9,} {m.cross.shape[1]:>8,} {m.nbytes / 1e6:>11.1f}"
        )
        sites.append(dict(site=site, features=features, mb=m.nbytes / 1e6))
    total_mb = stats.moments_nbytes / 1e6
    print(f"{'total':<14} {'':>9} {'':>8} {total_mb:>11.1f}")
    print(f"{'step':<52} {'seconds':>8}")
    lines = {
        "measure": best[False],
        "measure(moments=True)": best[True],
        f"sweep(refit=True), {len(thresholds)} thresholds": sweep_s,
        f"apply(refit=True) per threshold, {len(thresholds)} calls": applies_s,
    }
    for name, seconds in lines.items():
        print(f"{name:<52} {seconds:>8.2f}")
    print(
        f"moments overhead: {best[True] / best[False]:.2f}x measure; "
        f"refit sweep: {applies_s / sweep_s:.2f}x faster than one apply per threshold"
    )
    return dict(
        model=model.name,
        params=model.count_params(),
        rows=len(x),
        moments_mb=total_mb,
        sites=sites,
        seconds=lines,
        params_by_threshold=dict(
            zip(map(float, table.threshold), map(int, table.total_params))
        ),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--thresholds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results = []
    for model in (with_active_biases(small_cnn()), with_active_biases(build_model())):
        shape = model.inputs[0].shape[1:]
        x = rng.uniform(0, 1, size=(args.rows, *shape)).astype("float32")
        results.append(report(model, x, args))
    write_results("refit_moments", dict(rows=args.rows, models=results))


if __name__ == "__main__":
    main()
