"""Compression of the architecture zoo after brief training.

Every model of `keras_linprune.examples.zoo` is trained for a few epochs to mimic a
random teacher on generated data (standard-normal inputs), then compressed
at thresholds 1.0 and 0.95 (`layer_threshold="optimal"`, `shortcut="auto"`).
Prints parameters before/after and the largest output difference on the
calibration rows and on fresh rows; writes
`benchmarks/results/zoo_compression.json`.

Usage:
    python benchmarks/zoo_compression.py [--rows 2000] [--epochs 3]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from results_file import write_results  # noqa: E402

import keras_linprune as linprune  # noqa: E402
from keras_linprune.examples import zoo  # noqa: E402

THRESHOLDS = (1.0, 0.95)


def teacher_targets(model, x, seed=0):
    """Targets of the model's output shapes from a fixed random teacher."""
    rng = np.random.default_rng(seed)
    flat = np.concatenate(
        [a.reshape(len(a), -1) for a in keras.tree.flatten(x)], axis=1
    )

    def target(t):
        width = int(np.prod(t.shape[1:]))
        w = rng.normal(size=(flat.shape[1], width)) / np.sqrt(flat.shape[1])
        return np.tanh(flat @ w).reshape(len(flat), *t.shape[1:]).astype("float32")

    return keras.tree.map_structure(target, model._outputs_struct)


def max_diff(a, b):
    return max(
        float(np.abs(u - v).max())
        for u, v in zip(keras.tree.flatten(a), keras.tree.flatten(b))
    )


def run(name, rows, epochs):
    model = zoo.BUILDERS[name]()
    x = zoo.inputs_for(model, rows, seed=1)
    fresh = zoo.inputs_for(model, rows, seed=2)
    model.compile("adam", "mse")
    model.fit(x, teacher_targets(model, x), epochs=epochs, batch_size=64, verbose=0)
    stats = linprune.measure(model, x, verbose=0)
    ref, ref_fresh = model.predict(x, verbose=0), model.predict(fresh, verbose=0)
    out = []
    for t in THRESHOLDS:
        start = time.perf_counter()
        small, report = linprune.apply(model, stats, threshold=t)
        seconds = time.perf_counter() - start
        out.append(
            dict(
                model=name,
                threshold=t,
                params_before=model.count_params(),
                params_after=small.count_params(),
                ratio=small.count_params() / model.count_params(),
                folded_sites=int(report.folded.sum()),
                sites=len(report),
                linear=int(report.linear.sum()),
                removed_constant=int(report.dead.sum() + report.constant.sum()),
                max_abs_diff_calibration=max_diff(small.predict(x, verbose=0), ref),
                max_abs_diff_fresh=max_diff(small.predict(fresh, verbose=0), ref_fresh),
                apply_seconds=seconds,
            )
        )
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for name in zoo.BUILDERS:
        results.extend(run(name, args.rows, args.epochs))
    print(
        f"{'model':<18} {'thr':>5} {'params':>16} {'ratio':>7} "
        f"{'sites':>6} {'linear':>7} {'const':>6} {'max|d| calib':>13} "
        f"{'max|d| fresh':>13}"
    )
    for r in results:
        print(
            f"{r['model']:<18} {r['threshold']:>5} "
            f"{r['params_before']:>7,}->{r['params_after']:<7,} "
            f"{r['ratio']:>7.1%} {r['folded_sites']:>3}/{r['sites']:<2} "
            f"{r['linear']:>7} {r['removed_constant']:>6} "
            f"{r['max_abs_diff_calibration']:>13.2e} "
            f"{r['max_abs_diff_fresh']:>13.2e}"
        )
    write_results(
        "zoo_compression", dict(rows=args.rows, epochs=args.epochs, results=results)
    )


if __name__ == "__main__":
    main()
