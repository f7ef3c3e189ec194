"""`linprune measure MODEL --data D --out stats.npz`: one pass over the
calibration data; `linprune compress --stats` and `sweep --stats` reuse it."""

import numpy as np

import keras_linprune as linprune
from keras_linprune.cli import arguments
from keras_linprune.files import inputs, outputs


def add_parser(sub):
    parser = sub.add_parser(
        "measure",
        help="count the activation pieces of every fold site on calibration data",
    )
    arguments.add_model(parser)
    arguments.add_data(parser)
    arguments.add_output(parser, "output .npz path of the statistics")
    arguments.add_batch_size(parser)
    parser.add_argument(
        "--moments",
        action="store_true",
        help="also gather the second moments --refit needs, so that "
        "`compress --stats ... --refit` reads no data (memory grows with the "
        "square of each layer's inputs)",
    )
    arguments.add_json(parser)
    return parser


def run(args):
    inputs.check_readable(args.model, "model", inputs.MODEL_SUFFIXES)
    inputs.check_readable(args.data, "data", inputs.DATA_SUFFIXES)
    outputs.check_writable(
        args.out, "stats", ".npz", force=args.force, inputs=(args.model, args.data)
    )
    model = inputs.load_model(args.model)
    data = inputs.load_data(args.data)

    stats = linprune.measure(
        model,
        data,
        batch_size=args.batch_size,
        moments=args.moments,
        verbose=0 if args.json else 1,
    )
    stats.save(args.out)
    sites = site_table(stats)
    if args.json:
        arguments.print_json(
            dict(rows=stats.rows, sites=sites, warnings=stats.warnings, out=args.out)
        )
        return 0
    print(f"{stats.rows:,} calibration rows, {len(sites)} fold sites")
    for row in sites:
        print(
            f"  {row['site']}: {row['units']} units, {row['in_one_piece']} in one "
            f"piece on every row; rate min/median/max {row['rate_min']:.2f}/"
            f"{row['rate_median']:.2f}/{row['rate_max']:.2f}"
        )
    for warning in stats.warnings:
        print(f"Warning: {warning}")
    print(f"Statistics written to {args.out}")
    return 0


def site_table(stats):
    """Per site: units, neurons in one activation piece on every row (what
    folds or leaves at threshold 1.0), and the principal piece's rates."""
    table = []
    for site in stats.sites:
        pieces = stats.piece_rates[site]
        rates = stats.rates[site]
        table.append(
            dict(
                site=site,
                units=int(rates.size),
                in_one_piece=int(np.count_nonzero(pieces.max(axis=0) >= 1.0)),
                rate_min=float(rates.min()),
                rate_median=float(np.median(rates)),
                rate_max=float(rates.max()),
            )
        )
    return table
