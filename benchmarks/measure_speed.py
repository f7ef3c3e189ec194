"""Speed of `measure()` and `apply()` against `model.predict`.

The paper's largest MLP, 784-1024-1024-512-512-256-256-10, on N calibration
rows (default 10,000). Prints a table and writes
`benchmarks/results/measure_speed.json`.

Usage:
    python benchmarks/measure_speed.py [--rows 10000] [--repeats 7] [--breakdown]
        [--model mlp|vgg|resnet50v2|...]

`--breakdown` also times one 1,024-row batch of each part of the counting
step (median of 30 alternated calls): where `measure`'s time per batch goes.

Targets: `measure()` at most 1.05x a raw compiled forward pass over the same
batches (issue #11: `model.predict`'s own overhead hides ours), its first call
at most 1.5x its best; `apply()` on precomputed stats under 1 second.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from results_file import write_results  # noqa: E402

import keras_linprune as linprune  # noqa: E402

WIDTHS = (784, 1024, 1024, 512, 512, 256, 256, 10)


def build_model(seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((WIDTHS[0],))
    h = x
    for w in WIDTHS[1:-1]:
        h = keras.layers.Dense(w, activation="relu")(h)
    y = keras.layers.Dense(WIDTHS[-1], activation="softmax")(h)
    return keras.Model(x, y, name="mlp_2_8m")


def raw_forward(model, x, batch_size=1024):
    """A compiled forward pass over `x` in batches, nothing else: what
    `measure` costs without counting (one trace, open batch axis)."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *x.shape[1:]), tf.float32)
    forward = tf.function(lambda t: model(t, training=False), autograph=False)
    forward = forward.get_concrete_function(spec)

    def run():
        for start in range(0, len(x), batch_size):
            forward(tf.constant(x[start : start + batch_size]))

    return run


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def batch_breakdown(model, x, calls=30):
    """Median milliseconds of one batch: the raw forward pass, the probe
    model (the sites' activations), the probe with the counts, and the
    whole counting step (with the input checks); then `measure` per batch."""
    import tensorflow as tf

    from keras_linprune.analysis import analyse
    from keras_linprune.measurement import counting

    linprune.measure(model, x[:1024], verbose=0)  # builds and caches the counter
    (counter,) = counting._COUNTERS[analyse(model).fn].values()
    spec = tf.TensorSpec((None, *x.shape[1:]), tf.float32)

    def traced(fn):
        return tf.function(fn, autograph=False).get_concrete_function(spec)

    batch = tf.constant(x[:1024])
    totals = counter._zeros()
    parts = {
        "raw forward": traced(lambda t: model(t, training=False)),
        "probe (activations)": traced(lambda t: counter.probe([t], training=False)),
        "probe + counts": traced(lambda t: counter.batch_counts([t])),
    }
    steps = {name: (lambda f=f: f(batch)) for name, f in parts.items()}
    steps["counting step (+ input checks)"] = lambda: counter.step(totals, [batch])
    times = {name: [] for name in steps}
    for _ in range(calls):
        for name, fn in steps.items():
            times[name].append(timed(fn))
    whole = min(timed(lambda: linprune.measure(model, x, verbose=0)) for _ in range(3))
    rows = [(name, 1000 * float(np.median(t))) for name, t in times.items()]
    rows.append(("measure, per batch (best of 3)", 1000 * whole / -(-len(x) // 1024)))
    print(f"\n{'one 1,024-row batch':<36} {'ms':>7}")
    for name, ms in rows:
        print(f"{name:<36} {ms:>7.2f}")
    return dict(rows)


def interleaved(steps, repeats):
    """Times every step once per round, `repeats` rounds, so that machine
    noise hits all steps alike. Returns {name: (best, first)}."""
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, fn in steps.items():
            times[name].append(timed(fn))
    return {name: (min(t), t[0]) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument(
        "--model",
        default="mlp",
        help="mlp (default) or a model of benchmarks/latency.py (vgg, resnet50v2, ...)",
    )
    args = parser.parse_args()
    if args.model == "mlp":
        model = build_model()
    else:  # the latency benchmark's models (pinned: some neurons linear)
        from latency import MODELS, pin

        model = pin(MODELS[args.model]())
    rng = np.random.default_rng(0)
    shape = tuple(model.inputs[0].shape[1:])
    x = rng.uniform(0, 1, size=(args.rows, *shape)).astype("float32")

    # First calls include tracing; measure's is timed before anything else
    # has traced the model.
    start = time.perf_counter()
    stats = linprune.measure(model, x, verbose=0)
    first = {"linprune.measure (default batch 1024)": time.perf_counter() - start}
    steps = {"raw compiled forward (batch 1024)": raw_forward(model, x)}
    for bs in (32, 256, 1024):
        steps[f"model.predict(batch_size={bs})"] = lambda bs=bs: model.predict(
            x, batch_size=bs, verbose=0
        )
    steps["linprune.measure (default batch 1024)"] = lambda: linprune.measure(
        model, x, verbose=0
    )
    for t in (1.0, 0.9):
        steps[f"linprune.apply(stats, threshold={t})"] = lambda t=t: linprune.apply(
            model, stats, threshold=t, verbose=0
        )
    for name, fn in steps.items():
        first.setdefault(name, timed(fn))
    results = interleaved(steps, args.repeats)
    rows = [(name, best, first[name]) for name, (best, _) in results.items()]
    predict_best = min(b for n, b, _ in rows if n.startswith("model.predict"))
    measure_best = results["linprune.measure (default batch 1024)"][0]
    apply_best = max(b for n, b, _ in rows if n.startswith("linprune.apply"))

    print(
        f"{model.name}: {model.count_params():,} params, "
        f"{args.rows:,} rows, best of {args.repeats}"
    )
    print(f"{'step':<42} {'best s':>8} {'first s':>8} {'rows/s':>10} {'x predict':>10}")
    for name, best, first_s in rows:
        print(
            f"{name:<42} {best:>8.3f} {first_s:>8.3f} "
            f"{args.rows / best:>10,.0f} {best / predict_best:>10.2f}"
        )
    ratio = measure_best / predict_best
    raw_best = results["raw compiled forward (batch 1024)"][0]
    measure_first = first["linprune.measure (default batch 1024)"]
    print(
        f"\nmeasure / raw forward = {measure_best / raw_best:.2f} (target <= 1.05); "
        f"first / best measure = {measure_first / measure_best:.2f} (target <= 1.5); "
        f"measure / best predict = {ratio:.2f}; "
        f"apply on stats = {apply_best:.3f} s (target < 1 s)"
    )
    breakdown = batch_breakdown(model, x) if args.breakdown else None
    write_results(
        "measure_speed" if args.model == "mlp" else f"measure_speed_{args.model}",
        {
            "model": model.name,
            "params": model.count_params(),
            "rows": args.rows,
            "repeats": args.repeats,
            "timings": [dict(step=n, best_s=b, first_s=f) for n, b, f in rows],
            "measure_over_best_predict": ratio,
            "measure_over_raw_forward": measure_best / raw_best,
            "measure_first_over_best": measure_first / measure_best,
            "apply_on_stats_s": apply_best,
            "batch_breakdown_ms": breakdown,
        },
    )


if __name__ == "__main__":
    main()
