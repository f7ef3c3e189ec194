"""Latency of compressed models against their originals.

For each model: parameters, operations (layers and ops, nested models'
included) and `.keras` size before/after `apply` at threshold 1.0, and the
best time of a compiled forward pass (the call as one `tf.function` graph,
as a serving signature runs it) at batch 1 and 256, an eager call at batch
1, and the TFLite interpreter at batch 1 (`keras_linprune.bench`). Prints a
table and writes `benchmarks/results/latency.json`.

Models (random weights; nothing downloaded): the paper's 2.8M MLP, a
VGG-style CNN, ResNet50V2 and DenseNet121 (`keras.applications`,
`weights=None`, 64x64 inputs), and with `--models zoo` the model zoo,
with biases / BatchNormalization offsets pinned so that a share of the
neurons is dead or linear (a stand-in for training, which produces both).

Usage:
    python benchmarks/latency.py [--models mlp,vgg,resnet50v2,densenet121|zoo]
        [--repeats 5] [--no-tflite] [--objective params|macs|latency]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from results_file import write_results  # noqa: E402

import keras_linprune as linprune  # noqa: E402
from keras_linprune import bench  # noqa: E402
from keras_linprune.examples import zoo  # noqa: E402

L = keras.layers


def pin(model, seed=0, dead=0.25, linear=0.25):
    """Pins a share of the channels into one piece: the offset of every
    BatchNormalization (or the bias of every hidden Dense/Conv when there
    is none) is set far below (dead) or above (linear) zero."""
    rng = np.random.default_rng(seed)
    norms = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    targets = norms or [
        layer
        for layer in model.layers[:-1]
        if isinstance(layer, (L.Dense, L.Conv2D)) and layer.use_bias
    ]
    for layer in targets:
        weights = layer.get_weights()
        index = 1 if isinstance(layer, L.BatchNormalization) else -1
        n = weights[index].shape[0]
        choice = rng.choice(3, size=n, p=[dead, linear, 1 - dead - linear])
        offset = np.where(choice == 0, -20.0, np.where(choice == 1, 20.0, 0.0))
        weights[index] = offset.astype(weights[index].dtype)
        layer.set_weights(weights)
    return model


def mlp():
    keras.utils.set_random_seed(0)
    x = keras.Input((784,))
    h = x
    for width in (1024, 1024, 512, 512, 256, 256):
        h = L.Dense(width, activation="relu", kernel_initializer="glorot_normal")(h)
    return keras.Model(x, L.Dense(10)(h), name="mlp_2_8m")


def vgg():
    keras.utils.set_random_seed(0)
    x = keras.Input((32, 32, 3))
    h = x
    for filters in (32, 64, 128):
        for _ in range(2):
            h = L.Conv2D(filters, 3, padding="same", use_bias=False)(h)
            h = L.ReLU()(L.BatchNormalization()(h))
        h = L.Conv2D(filters, 1, use_bias=False)(h)
        h = L.ReLU()(L.BatchNormalization()(h))
        h = L.MaxPooling2D()(h)
    h = L.Dense(256, activation="relu")(L.Flatten()(h))
    return keras.Model(x, L.Dense(10)(h), name="vgg_style")


def application(name):
    def build():
        keras.utils.set_random_seed(0)
        factory = getattr(keras.applications, name)
        return factory(weights=None, input_shape=(64, 64, 3), classes=10)

    return build


MODELS = {
    "mlp": mlp,
    "vgg": vgg,
    "resnet50v2": application("ResNet50V2"),
    "densenet121": application("DenseNet121"),
}
#: The model zoo (`keras_linprune.examples.zoo`), as `zoo:<name>`;
#: `--models zoo` runs all of them.
MODELS.update({f"zoo:{name}": build for name, build in zoo.BUILDERS.items()})
DEFAULT_MODELS = ("mlp", "vgg", "resnet50v2", "densenet121")


def timings(models, repeats, with_tflite):
    """Parameters, operations, file sizes and best times of each model, the
    models timed in alternation (`bench.describe_all`)."""
    return bench.describe_all(
        models, batch_sizes=(1, 256), repeats=repeats, tflite=with_tflite
    )


def run_model(name, repeats, with_tflite, objective="params"):
    model = MODELS[name]()
    pin(model)
    calib = zoo.inputs_for(model, 512)
    small, report = linprune.apply(model, calib, objective=objective, verbose=0)
    before, after = timings([model, small], repeats, with_tflite)
    macs = report.attrs.get("macs_ratio")
    return {"model": name, "macs_ratio": macs, "before": before, "after": after}


def print_table(results):
    keys = [k for k in results[0]["before"] if k.endswith("_ms")]
    header = " ".join(f"{k:>17}" for k in keys)
    print(f"{'model':<12} {'params':>7} {'MACs':>6} {'operations':>9} {header}")
    for r in results:
        b, a = r["before"], r["after"]
        cells = [f"{b[k]:7.2f}/{a[k]:7.2f}" for k in keys]
        macs = r.get("macs_ratio")
        print(
            f"{r['model']:<12} {a['params'] / b['params']:>7.3f} "
            f"{macs if macs is not None else float('nan'):>6.3f} "
            f"{b['operations']:>4}/{a['operations']:<4} "
            + " ".join(f"{c:>17}" for c in cells)
        )
    print(
        "(params, MACs: ratio after/before; times: before/after in ms, best of repeats)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help="comma-separated names, or zoo for every zoo model",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-tflite", action="store_true")
    parser.add_argument(
        "--objective", choices=("params", "macs", "latency"), default="params"
    )
    args = parser.parse_args()
    names = [
        n
        for part in args.models.split(",")
        for n in (
            [m for m in MODELS if m.startswith("zoo:")] if part == "zoo" else [part]
        )
    ]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; expected some of {sorted(MODELS)}")
    results = [
        run_model(n, args.repeats, not args.no_tflite, args.objective) for n in names
    ]
    print_table(results)
    name = "latency"
    if any(n.startswith("zoo:") for n in names):
        name += "_zoo"
    if args.objective != "params":
        name += f"_{args.objective}"
    write_results(
        name,
        {"repeats": args.repeats, "objective": args.objective, "results": results},
    )


if __name__ == "__main__":
    main()
