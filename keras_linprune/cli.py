"""Command line: `linprune demo` and `linprune compress`."""

import argparse
import os
import sys


def _layer_threshold(text):
    """Parses --layer-threshold: an int, a float or a string rule."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def build_parser():
    parser = argparse.ArgumentParser(
        prog="linprune",
        description="Linearity-based compression of Keras 3 models.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="train a small MLP on scikit-learn digits and compress it"
    )
    demo.add_argument("--epochs", type=int, default=10)
    demo.add_argument("--seed", type=int, default=0)
    comp = sub.add_parser("compress", help="compress a saved .keras model")
    comp.add_argument("model", help="path of a .keras model")
    comp.add_argument(
        "--data", required=True, help="calibration inputs: a .npy array (rows first)"
    )
    comp.add_argument("--out", required=True, help="output .keras path")
    comp.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="activation rate for linear neurons (default 1.0)",
    )
    comp.add_argument(
        "--target-size",
        type=float,
        default=None,
        help="size budget as a fraction of the original",
    )
    comp.add_argument(
        "--target-params",
        type=int,
        default=None,
        help="size budget as a parameter count",
    )
    comp.add_argument("--shortcut", choices=("auto", "dense"), default="auto")
    comp.add_argument(
        "--refit",
        action="store_true",
        help="least-squares shortcuts (one more data pass)",
    )
    comp.add_argument(
        "--layer-threshold",
        type=_layer_threshold,
        default="optimal",
        help='"optimal" (default), "greedy", "sequential", an int or a float',
    )
    comp.add_argument(
        "--no-remove-dead",
        action="store_true",
        help="keep never-active neurons (prototype behaviour)",
    )
    comp.add_argument("--batch-size", type=int, default=None)
    comp.add_argument("--report", help="write the report as CSV here")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # TensorFlow's C++ logs (including harmless Grappler "errors" about
    # generated layer names) would drown the report.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.command == "demo":
        from keras_linprune.examples import demo

        demo.run(epochs=args.epochs, seed=args.seed)
        return 0
    return _compress(args)


def _compress(args):
    import keras
    import numpy as np

    import keras_linprune as linprune

    for path in (args.model, args.data):
        if not os.path.exists(path):
            print(f"linprune: error: no such file: {path}", file=sys.stderr)
            return 2
    model = keras.saving.load_model(args.model)
    data = np.load(args.data, allow_pickle=False)
    try:
        small, report = linprune.apply(
            model,
            data,
            threshold=args.threshold,
            layer_threshold=args.layer_threshold,
            remove_dead=not args.no_remove_dead,
            shortcut=args.shortcut,
            target_size=args.target_size,
            target_params=args.target_params,
            refit=args.refit,
            batch_size=args.batch_size,
            verbose=1,
        )
    except (TypeError, ValueError) as e:
        print(f"linprune: error: {e}", file=sys.stderr)
        return 2
    print(linprune.summary(report))
    small.save(args.out)
    print(f"Saved {args.out}")
    if args.report:
        report.to_csv(args.report, index=False)
        print(f"Report written to {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
