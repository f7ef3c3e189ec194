"""`linprune export MODEL --saved-model DIR | --tflite F | --onnx F`, and the
same flags on `linprune compress`."""

from keras_linprune.cli import arguments
from keras_linprune.files import inputs, outputs


def add_parser(sub):
    parser = sub.add_parser(
        "export", help="write a .keras model for TF Serving, TFLite or ONNX"
    )
    arguments.add_model(parser)
    add_export_arguments(parser)
    parser.add_argument("--force", action="store_true", help="replace existing outputs")
    arguments.add_json(parser)
    return parser


def add_export_arguments(parser):
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


def check_exports(args, sources):
    """Checks the export outputs before any work."""
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


def write_exports(model, args):
    """Writes every export the flags ask for; returns what was written."""
    from keras_linprune import export

    written = {}
    if args.saved_model:
        written["saved_model"] = export.export_saved_model(
            model, args.saved_model, args.version, overwrite=args.force
        )
    if args.tflite:
        ops = export.export_tflite(
            model, args.tflite, ops=args.tflite_ops, overwrite=args.force
        )
        written["tflite"], written["tflite_ops"] = args.tflite, ops
    if args.onnx:
        export.export_onnx(model, args.onnx, overwrite=args.force)
        written["onnx"] = args.onnx
    return written


def describe_exports(written):
    """One line per written artefact."""
    lines = []
    if "saved_model" in written:
        lines.append(f"SavedModel for TF Serving written to {written['saved_model']}")
    if "tflite" in written:
        lines.append(
            f"TFLite model written to {written['tflite']} "
            f"(operators: {written['tflite_ops']})"
        )
    if "onnx" in written:
        lines.append(f"ONNX model written to {written['onnx']}")
    return lines


def run(args):
    inputs.check_readable(args.model, "model", inputs.MODEL_SUFFIXES)
    if not (args.saved_model or args.tflite or args.onnx):
        raise ValueError("nothing to export: pass --saved-model, --tflite or --onnx")
    check_exports(args, (args.model,))
    written = write_exports(inputs.load_model(args.model), args)
    if args.json:
        arguments.print_json(written)
        return 0
    for line in describe_exports(written):
        print(line)
    return 0
