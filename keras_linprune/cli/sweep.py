"""`linprune sweep MODEL (--data D | --stats S) --out sweep.csv`: size (and
metrics, with --eval-data) at every threshold, optionally plotted."""

import keras_linprune as linprune
from keras_linprune import plot
from keras_linprune.cli import arguments, figures
from keras_linprune.files import inputs, outputs


def add_parser(sub):
    parser = sub.add_parser(
        "sweep", help="compress at several thresholds and tabulate size and metrics"
    )
    arguments.add_model(parser)
    arguments.add_calibration(parser)
    arguments.add_output(parser, "output .csv path of the table")
    parser.add_argument(
        "--eval-data",
        help="an .npz archive with the targets as `y` and the inputs as `x` "
        "(or one array per input name), to evaluate every compressed model on",
    )
    parser.add_argument(
        "--metrics",
        help="comma-separated metric names (default: the model's compiled ones)",
    )
    parser.add_argument(
        "--thresholds",
        type=arguments.float_list,
        default=None,
        help="comma-separated thresholds (default: 0.05, 0.10, ..., 1.00)",
    )
    parser.add_argument(
        "--plot",
        help="also draw the table to this .png: the first metric against the "
        "parameters (or the parameters against the threshold)",
    )
    arguments.add_plan_options(parser)
    arguments.add_batch_size(parser)
    arguments.add_json(parser)
    return parser


def _check(args, sources):
    if args.eval_data:
        inputs.check_readable(args.eval_data, "evaluation data", (".npz",))
    outputs.check_writable(args.out, "table", ".csv", force=args.force, inputs=sources)
    figures.check_plot(args, sources)


def run(args):
    model, calibration = arguments.read_inputs(args, _check)
    eval_data = inputs.load_eval_data(args.eval_data) if args.eval_data else None

    options = arguments.library_options(args)
    if args.thresholds is not None:
        options["thresholds"] = args.thresholds
    table = linprune.sweep(
        model,
        calibration,
        eval_data=eval_data,
        metrics=args.metrics.split(",") if args.metrics else None,
        **options,
    )
    with outputs.staged({"table": args.out, "plot": args.plot}) as tmp:
        table.to_csv(tmp["table"], index=False)
        if tmp["plot"]:
            _plot(table, tmp["plot"])
    payload = dict(original=table.attrs["original"], rows=table.to_dict("records"))
    return arguments.finish(
        args,
        payload,
        [table.to_string(index=False)],
        {"Table": args.out, "Plot": args.plot},
    )


def _plot(table, path):
    sizes = ("total_params", "total_macs")
    metrics = [m for m in table.attrs["original"] if m not in sizes]
    if metrics:
        figures.save_png(path, lambda ax: plot.metric_vs_weights(table, metrics[0], ax))
    else:
        figures.save_png(path, lambda ax: plot.weights_vs_threshold(table, ax))
