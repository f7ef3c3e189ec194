"""Speed of a 20-threshold `sweep` with evaluation, and of size targets.

The paper's 784-1024-1024-512-512-256-256-10 MLP, trained for one epoch on
scikit-learn's digits upsampled to 28x28 (so that rates are realistic),
10,000 calibration rows, evaluation on the digits. The prototype's sweep
re-measured the rates at every threshold (198 s for 20 thresholds on this
MLP, docs/method.md section 10). Writes `benchmarks/results/sweep_speed.json`.

Usage:
    python benchmarks/sweep_speed.py [--rows 10000] [--repeats 3]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from results_file import write_results  # noqa: E402

import keras_linprune as linprune  # noqa: E402
from keras_linprune.examples import demo  # noqa: E402

WIDTHS = (1024, 1024, 512, 512, 256, 256)


def digits_28x28(rows, seed=0):
    """scikit-learn digits, upsampled 8x8 -> 28x28 (nearest), flattened."""
    x_tr, y_tr, x_te, y_te = demo.load_digits_split(seed)

    def up(a):
        big = np.repeat(np.repeat(a.reshape(-1, 8, 8), 4, 1), 4, 2)
        return big[:, 2:30, 2:30].reshape(len(a), -1)

    x_tr, x_te = up(x_tr), up(x_te)
    reps = int(np.ceil(rows / len(x_tr)))
    noise = np.random.default_rng(seed).normal(0, 0.05, (reps * len(x_tr), 784))
    x_cal = (np.tile(x_tr, (reps, 1)) + noise)[:rows].astype("float32")
    return x_tr, y_tr, x_te, y_te, x_cal


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="size targets: best of")
    args = parser.parse_args()
    x_tr, y_tr, x_te, y_te, x_cal = digits_28x28(args.rows)
    model = demo.build_mlp(784, 10, widths=WIDTHS)
    model.fit(x_tr, y_tr, epochs=1, batch_size=64, verbose=0)
    start = time.perf_counter()
    stats = linprune.measure(model, x_cal, verbose=0)
    measure_s = time.perf_counter() - start
    start = time.perf_counter()
    table = linprune.sweep(model, stats, eval_data=(x_te, y_te))
    sweep_s = time.perf_counter() - start
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    targets = []
    for size in (0.75, 0.5, 0.25):
        times = []
        for _ in range(args.repeats):  # best of: this machine is shared
            start = time.perf_counter()
            try:
                small, report = linprune.apply(model, stats, target_size=size)
                row = dict(
                    target_size=size,
                    params=small.count_params(),
                    threshold=report.attrs["threshold"],
                )
            except ValueError as e:
                row = dict(target_size=size, error=str(e))
            times.append(time.perf_counter() - start)
        targets.append(dict(row, seconds=min(times)))
    print(
        f"\nmeasure: {measure_s:.2f} s; 20-threshold sweep with evaluation:"
        f" {sweep_s:.2f} s ({sweep_s / len(table):.2f} s per threshold)"
    )
    for t in targets:
        print(t)
    write_results(
        "sweep_speed",
        dict(
            params=model.count_params(),
            rows=args.rows,
            measure_s=measure_s,
            sweep_s=sweep_s,
            table=table.to_dict("records"),
            targets=targets,
            original=table.attrs["original"],
        ),
    )


if __name__ == "__main__":
    main()
