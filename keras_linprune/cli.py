"""Command line: `linprune demo` and `linprune compress`.

Every user error (a bad option, a missing or unreadable file, an output that
would overwrite a file) prints one line to stderr and exits with status 2,
as argparse does, before any compression runs. Outputs are written to
temporary files and renamed into place only when everything succeeded.
"""

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
    _add_file_arguments(comp)
    _add_choice_arguments(comp)
    return parser


def _add_file_arguments(comp):
    comp.add_argument("model", help="path of a .keras model")
    comp.add_argument(
        "--data",
        required=True,
        help="calibration inputs: a .npy array (rows first), an .npz archive "
        "(one array, or one per input name) or a numeric .csv table",
    )
    comp.add_argument("--out", required=True, help="output .keras path")
    comp.add_argument(
        "--force",
        action="store_true",
        help="replace existing --out / --report files",
    )
    comp.add_argument("--report", help="write the report as CSV here")


def _add_choice_arguments(comp):
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


def main(argv=None):
    args = build_parser().parse_args(argv)
    # TensorFlow's C++ logs (including harmless Grappler "errors" about
    # generated layer names) would drown the report.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        if args.command == "demo":
            from keras_linprune.examples import demo

            demo.run(epochs=args.epochs, seed=args.seed)
            return 0
        return _compress(args)
    except (ValueError, TypeError, OSError) as e:
        return _fail(e)
    except KeyboardInterrupt:
        print("linprune: interrupted; no file was written", file=sys.stderr)
        return 130


def _fail(error):
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"linprune: error: {message}", file=sys.stderr)
    return 2


def _compress(args):
    from keras_linprune.files import inputs, outputs

    inputs.check_readable(args.model, "model", inputs.MODEL_SUFFIXES)
    inputs.check_readable(args.data, "data", inputs.DATA_SUFFIXES)
    sources = (args.model, args.data)
    outputs.check_writable(
        args.out, "model", ".keras", force=args.force, inputs=sources
    )
    if args.report:
        outputs.check_writable(
            args.report, "report", ".csv", force=args.force, inputs=sources
        )
        if os.path.abspath(args.report) == os.path.abspath(args.out):
            raise ValueError("--report and --out must be different files")
    model = inputs.load_model(args.model)
    data = inputs.load_data(args.data)

    import keras_linprune as linprune

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
    print(linprune.summary(report))
    with outputs.staged({"model": args.out, "report": args.report}) as tmp:
        small.save(tmp["model"])
        if tmp["report"]:
            report.to_csv(tmp["report"], index=False)
    print(f"Saved {args.out}")
    if args.report:
        print(f"Report written to {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
