"""`linprune bench MODEL [COMPRESSED]`: CPU latency and file sizes."""

from keras_linprune.cli import arguments
from keras_linprune.files import inputs


def add_parser(sub):
    parser = sub.add_parser(
        "bench",
        help="CPU latency and file sizes of a .keras model, or of a compressed "
        "model against its original",
    )
    parser.add_argument("model", help="path of a .keras model (the original)")
    parser.add_argument(
        "compressed", nargs="?", help="path of its compressed .keras model"
    )
    parser.add_argument(
        "--batch-sizes",
        type=arguments.int_list,
        default=(1, 256),
        help="comma-separated batch sizes of the compiled forward pass "
        "(default: 1,256)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure")
    parser.add_argument(
        "--tflite",
        action="store_true",
        help="also the TFLite file's size and interpreter time",
    )
    parser.add_argument(
        "--saved-model",
        action="store_true",
        help="also the size of the SavedModel folder (TF Serving)",
    )
    arguments.add_json(parser)
    return parser


def run(args):
    import pandas as pd

    from keras_linprune import bench

    paths = [p for p in (args.model, args.compressed) if p]
    for path in paths:
        inputs.check_readable(path, "model", inputs.MODEL_SUFFIXES)
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1; received: {args.repeats}")
    models = [inputs.load_model(path) for path in paths]
    options = dict(batch_sizes=args.batch_sizes, repeats=args.repeats)
    options.update(tflite=args.tflite, saved_model=args.saved_model)
    if len(models) == 2:
        table = bench.compare(*models, **options)
    else:
        row = bench.describe(models[0], **options)
        table = pd.DataFrame({"measure": list(row), "value": list(row.values())})
    if args.json:
        arguments.print_json(table.to_dict("records"))
    else:
        print(text_table(table))
    return 0


def text_table(table):
    """The table with readable numbers: times and ratios with 3 decimals,
    counts and bytes with thousands separators."""
    rows = []
    for record in table.to_dict("records"):
        measure = record.pop("measure")
        rows.append(
            [measure]
            + [
                f"{v:.3f}" if k == "ratio" or measure.endswith("_ms") else f"{v:,.0f}"
                for k, v in record.items()
            ]
        )
    header = list(table.columns)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).rjust(w) for c, w in zip(row, widths))
        for row in [header, *rows]
    )
