"""Command line: `linprune demo`, `compress`, `export` and `bench`.

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
    _add_export_arguments(comp)
    export = sub.add_parser(
        "export", help="write a .keras model for TF Serving, TFLite or ONNX"
    )
    export.add_argument("model", help="path of a .keras model")
    _add_export_arguments(export)
    export.add_argument("--force", action="store_true", help="replace existing outputs")
    _add_bench_parser(sub)
    return parser


def _add_bench_parser(sub):
    bench = sub.add_parser(
        "bench",
        help="CPU latency and file sizes of a .keras model, or of a compressed "
        "model against its original",
    )
    bench.add_argument("model", help="path of a .keras model (the original)")
    bench.add_argument(
        "compressed", nargs="?", help="path of its compressed .keras model"
    )
    bench.add_argument(
        "--batch-sizes",
        type=_batch_sizes,
        default=(1, 256),
        help="comma-separated batch sizes of the compiled forward pass "
        "(default: 1,256)",
    )
    bench.add_argument("--repeats", type=int, default=5, help="timed calls per figure")
    bench.add_argument(
        "--tflite", action="store_true", help="also time the TFLite interpreter"
    )
    bench.add_argument(
        "--json", action="store_true", help="print JSON instead of a table"
    )


def _batch_sizes(text):
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers; received: {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected sizes >= 1; received: {text!r}")
    return sizes


def _add_export_arguments(parser):
    parser.add_argument(
        "--saved-model",
        metavar="DIR",
        help="TF Serving base folder: writes DIR/<version>/saved_model.pb",
    )
    parser.add_argument(
        "--version",
        type=int,
        default=None,
        help="SavedModel version (default: one above the highest in DIR)",
    )
    parser.add_argument("--tflite", metavar="FILE", help="TensorFlow Lite file")
    parser.add_argument(
        "--tflite-ops",
        choices=("auto", "builtins", "select"),
        default="auto",
        help="TFLite operator set (auto: TensorFlow ops only if needed)",
    )
    parser.add_argument(
        "--onnx", metavar="FILE", help='ONNX file (pip install "keras_linprune[onnx]")'
    )


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
        "--objective",
        choices=("params", "macs"),
        default="params",
        help="what the site choice minimises: parameters (default) or "
        "multiply-accumulates per example",
    )
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
        if args.command == "export":
            return _export(args)
        if args.command == "bench":
            return _bench(args)
        return _compress(args)
    except (ValueError, TypeError, OSError, ImportError) as e:
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
    _check_exports(args, sources)
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
        objective=args.objective,
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
    _write_exports(small, args)
    return 0


def _bench(args):
    import pandas as pd

    from keras_linprune import bench
    from keras_linprune.files import inputs

    paths = [p for p in (args.model, args.compressed) if p]
    for path in paths:
        inputs.check_readable(path, "model", inputs.MODEL_SUFFIXES)
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1; received: {args.repeats}")
    models = [inputs.load_model(path) for path in paths]
    options = dict(batch_sizes=args.batch_sizes, repeats=args.repeats)
    options["tflite"] = args.tflite
    if len(models) == 2:
        table = bench.compare(*models, **options)
    else:
        row = bench.describe(models[0], **options)
        table = pd.DataFrame({"measure": list(row), "value": list(row.values())})
    if args.json:
        print(table.to_json(orient="records"))
    else:
        print(_bench_text(table))
    return 0


def _bench_text(table):
    """The bench table with readable numbers."""

    lines = []
    for record in table.to_dict("records"):
        measure = record.pop("measure")
        cells = [
            f"{v:.3f}" if k == "ratio" or measure.endswith("_ms") else f"{v:,.0f}"
            for k, v in record.items()
        ]
        lines.append([measure, *cells])
    header = ["measure", *[c for c in table.columns if c != "measure"]]
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).rjust(w) for c, w in zip(row, widths))
        for row in [header, *lines]
    )


def _check_exports(args, sources):
    """Checks the export outputs before any work."""
    from keras_linprune.files import outputs

    if args.version is not None and args.version < 1:
        raise ValueError(
            f"--version must be a positive integer; received: {args.version}"
        )
    if args.version is not None and not args.saved_model:
        raise ValueError("--version needs --saved-model")
    for path, what, suffix in (
        (args.tflite, "TFLite", ".tflite"),
        (args.onnx, "ONNX", ".onnx"),
    ):
        if path:
            outputs.check_writable(path, what, suffix, force=args.force, inputs=sources)
    if args.onnx:
        import importlib.util

        if importlib.util.find_spec("tf2onnx") is None:
            raise ValueError('--onnx needs tf2onnx: pip install "keras_linprune[onnx]"')


def _write_exports(model, args):
    from keras_linprune import export

    if args.saved_model:
        path = export.export_saved_model(
            model, args.saved_model, args.version, overwrite=args.force
        )
        print(f"SavedModel for TF Serving written to {path}")
    if args.tflite:
        ops = export.export_tflite(
            model, args.tflite, ops=args.tflite_ops, overwrite=args.force
        )
        print(f"TFLite model written to {args.tflite} (operators: {ops})")
    if args.onnx:
        export.export_onnx(model, args.onnx, overwrite=args.force)
        print(f"ONNX model written to {args.onnx}")


def _export(args):
    from keras_linprune.files import inputs

    inputs.check_readable(args.model, "model", inputs.MODEL_SUFFIXES)
    if not (args.saved_model or args.tflite or args.onnx):
        raise ValueError("nothing to export: pass --saved-model, --tflite or --onnx")
    _check_exports(args, (args.model,))
    _write_exports(inputs.load_model(args.model), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
