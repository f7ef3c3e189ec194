"""`linprune compress MODEL (--data D | --stats S) --out SMALL.keras`."""

import os

import keras_linprune as linprune
from keras_linprune.cli import arguments, export, figures
from keras_linprune.files import outputs

#: --refit values -> `apply(refit=...)`.
REFIT = {"auto": "auto", "sequential": "sequential", "per-site": True, "none": False}


def add_parser(sub):
    parser = sub.add_parser("compress", help="compress a saved .keras model")
    arguments.add_model(parser)
    arguments.add_calibration(parser)
    arguments.add_output(parser, "output .keras path")
    parser.add_argument("--report", help="write the report as CSV here")
    parser.add_argument(
        "--plot",
        help="draw where folding happened to this .png (per site: removed, "
        "folded, linear but not folded, kept)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="activation rate for linear neurons (default 1.0)",
    )
    parser.add_argument(
        "--target-size",
        type=float,
        default=None,
        help="size budget as a fraction of the original",
    )
    parser.add_argument(
        "--target-params",
        type=int,
        default=None,
        help="size budget as a parameter count",
    )
    arguments.add_plan_options(parser)
    parser.add_argument(
        "--refit",
        nargs="?",
        const="per-site",
        default="auto",
        choices=tuple(REFIT),
        help="how shortcuts are fitted below threshold 1.0: auto (default: "
        "sequential with --data, per-site from --stats measured with "
        "--moments, else none), sequential (each site on the compressed "
        "model's values; 2 + 2n passes over --data), per-site (--refit "
        "alone: one pass, or none from --stats with moments), none",
    )
    parser.add_argument(
        "--finetune",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="epochs of distillation fine-tuning on --data after the rebuild "
        "(default 0: none)",
    )
    arguments.add_batch_size(parser)
    export.add_export_arguments(parser)
    arguments.add_json(parser)
    return parser


def _check_outputs(args, sources):
    outputs.check_writable(
        args.out, "model", ".keras", force=args.force, inputs=sources
    )
    if args.report:
        outputs.check_writable(
            args.report, "report", ".csv", force=args.force, inputs=sources
        )
        if os.path.abspath(args.report) == os.path.abspath(args.out):
            raise ValueError("--report and --out must be different files")
    export.check_exports(args, sources)
    figures.check_plot(args, sources)


def run(args):
    model, calibration = arguments.read_inputs(args, _check_outputs)

    small, report = linprune.apply(
        model,
        calibration,
        threshold=args.threshold,
        target_size=args.target_size,
        target_params=args.target_params,
        refit=REFIT[args.refit],
        finetune=args.finetune,
        **arguments.library_options(args),
    )
    staged = {"model": args.out, "report": args.report, "plot": args.plot}
    with outputs.staged(staged) as tmp:
        small.save(tmp["model"])
        if tmp["report"]:
            report.to_csv(tmp["report"], index=False)
        if tmp["plot"]:
            figures.save_png(
                tmp["plot"], lambda ax: linprune.plot.site_breakdown(report, ax)
            )
    written = export.write_exports(small, args)
    totals = {k: v for k, v in report.attrs.items() if k != "layers"}
    payload = dict(
        totals=totals,
        sites=report.to_dict("records"),
        outputs=dict(model=args.out, report=args.report, plot=args.plot, **written),
    )
    lines = [linprune.summary(report), f"Saved {args.out}"]
    status = arguments.finish(
        args, payload, lines, {"Report": args.report, "Plot": args.plot}
    )
    if not args.json:
        for line in export.describe_exports(written):
            print(line)
    return status
