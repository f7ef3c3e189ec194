"""What measuring under a `tf.distribute` strategy costs.

The paper's 2.8M-parameter MLP (`measure_speed.build_model`) on N rows
(default 10,000): `measure` on one device against `measure` under
`MirroredStrategy` over `--replicas` logical CPU devices (each batch split
by rows, counts summed). On a machine without GPUs the logical devices share
the same cores, so this measures the strategy's overhead (splitting, one
all-reduce of the counts per batch), not a speed-up. Prints a table and
writes `benchmarks/results/distributed_measure.json`.

Usage:
    python benchmarks/distributed_measure.py [--rows 10000] [--replicas 2]
        [--repeats 5]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import tensorflow as tf  # logical devices must be set before first use

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * args.replicas
    )
    import numpy as np
    from measure_speed import build_model, interleaved
    from results_file import write_results

    import keras_linprune as linprune

    model = build_model()
    x = np.random.default_rng(0).normal(size=(args.rows, 784)).astype("float32")
    devices = [f"/cpu:{i}" for i in range(args.replicas)]
    strategy = tf.distribute.MirroredStrategy(devices)
    steps = {
        "one device": lambda: linprune.measure(model, x, verbose=0),
        f"MirroredStrategy, {args.replicas} replicas": lambda: linprune.measure(
            model, x, strategy=strategy, verbose=0
        ),
    }
    times = interleaved(steps, args.repeats)
    base = times["one device"][0]
    print(f"{'measure':<32} {'best s':>7} {'first s':>8} {'x one device':>12}")
    rows = []
    for name, (best, first) in times.items():
        print(f"{name:<32} {best:7.3f} {first:8.3f} {best / base:12.2f}")
        rows.append(dict(step=name, best_s=best, first_s=first, ratio=best / base))
    write_results(
        "distributed_measure",
        dict(rows=args.rows, replicas=args.replicas, repeats=args.repeats, table=rows),
    )


if __name__ == "__main__":
    main()
