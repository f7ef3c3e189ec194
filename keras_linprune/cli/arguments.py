"""Arguments shared by several commands, and their parsing."""

import argparse
import os

from keras_linprune.files import inputs
from keras_linprune.measurement.stats import ActivationStats


def layer_threshold(text):
    """Parses --layer-threshold: an int, a float or a string rule."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def int_list(text):
    """Parses comma-separated integers >= 1 (--batch-sizes)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers; received: {text!r}"
        ) from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected sizes >= 1; received: {text!r}")
    return values


def float_list(text):
    """Parses comma-separated numbers (--thresholds)."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers; received: {text!r}"
        ) from None


def add_model(parser):
    parser.add_argument("model", help="path of a .keras model")


def add_data(parser, required=True):
    parser.add_argument(
        "--data",
        required=required,
        help="calibration inputs: a .npy array (rows first), an .npz archive "
        "(one array, or one per input name) or a numeric .csv table",
    )


def add_output(parser, help_text):
    parser.add_argument("--out", required=True, help=help_text)
    parser.add_argument(
        "--force", action="store_true", help="replace existing output files"
    )


def add_json(parser):
    parser.add_argument(
        "--json", action="store_true", help="print JSON on stdout instead of text"
    )


def add_batch_size(parser):
    parser.add_argument(
        "--batch-size", type=int, default=None, help="rows per measuring batch"
    )


def add_plan_options(parser):
    """Options of the plan shared by `compress` and `sweep`."""
    parser.add_argument(
        "--layer-threshold",
        type=layer_threshold,
        default="optimal",
        help='"optimal" (default), "greedy", "sequential", an int or a float',
    )
    parser.add_argument("--shortcut", choices=("auto", "dense"), default="auto")
    parser.add_argument(
        "--objective",
        choices=("params", "macs", "latency"),
        default="params",
        help="what the site choice minimises: parameters (default), "
        "multiply-accumulates per example, or the latency estimated by a cost "
        "model calibrated once on this machine",
    )
    parser.add_argument(
        "--no-remove-dead",
        action="store_true",
        help="keep never-active neurons (prototype behaviour)",
    )
    parser.add_argument(
        "--remove-inactive",
        choices=tuple(REMOVE_INACTIVE),
        default="auto",
        help="also remove rarely active neurons: auto (default: a size target "
        "compares mixes of folding and removal on held-out --data rows), yes "
        "(at the fold threshold), no",
    )


#: --remove-inactive values -> `apply(remove_inactive=...)`.
REMOVE_INACTIVE = {"auto": "auto", "yes": True, "no": False}


def plan_options(args):
    """The `apply` / `sweep` keyword arguments of `add_plan_options`."""
    return dict(
        layer_threshold=args.layer_threshold,
        shortcut=args.shortcut,
        objective=args.objective,
        remove_dead=not args.no_remove_dead,
        remove_inactive=REMOVE_INACTIVE[args.remove_inactive],
    )


def library_options(args):
    """`plan_options` plus the batch size and the progress bar (off with
    `--json`, whose stdout is for the JSON alone): what `compress` and
    `sweep` pass to `apply` / `sweep`."""
    return dict(
        batch_size=args.batch_size,
        verbose=0 if args.json else 1,
        **plan_options(args),
    )


def finish(args, payload, lines, written):
    """Ends a command: `payload` as JSON with `--json`, else the text
    `lines` and one "<what> written to <path>" line per output in
    `written` (`{what: path or None}`, unset outputs skipped). Returns the
    exit status, 0."""
    if args.json:
        print_json(payload)
        return 0
    for line in lines:
        print(line)
    for what, path in written.items():
        if path:
            print(f"{what} written to {path}")
    return 0


def add_calibration(parser):
    """`--data D` or `--stats S` (exactly one)."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--data",
        help="calibration inputs: a .npy array (rows first), an .npz archive "
        "(one array, or one per input name) or a numeric .csv table",
    )
    group.add_argument(
        "--stats", help="activation statistics written by `linprune measure`"
    )


def check_calibration(args):
    """Checks that the `--data` or `--stats` file exists; returns its path."""
    if getattr(args, "stats", None):
        inputs.check_readable(args.stats, "stats", (".npz",))
        return args.stats
    inputs.check_readable(args.data, "data", inputs.DATA_SUFFIXES)
    return args.data


def load_calibration(args):
    """The calibration argument of `apply`/`sweep`: the `--stats` file's
    `ActivationStats`, or the `--data` file's arrays."""
    if getattr(args, "stats", None):
        return ActivationStats.load(args.stats)
    return inputs.load_data(args.data)


def read_inputs(args, check_outputs):
    """The model and calibration of `compress` / `sweep`: both files are
    checked, then `check_outputs(args, input paths)`, before either loads.

    Returns:
        `(model, calibration)`.
    """
    inputs.check_readable(args.model, "model", inputs.MODEL_SUFFIXES)
    check_outputs(args, (args.model, check_calibration(args)))
    return inputs.load_model(args.model), load_calibration(args)


def print_json(value):
    """Prints `value` as JSON (NumPy numbers and NaN made plain)."""
    import json

    import numpy as np

    def plain(v):
        if isinstance(v, os.PathLike):
            return os.fspath(v)
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and v != v:
            return None
        return v

    def walk(v):
        if isinstance(v, dict):
            return {str(k): walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return plain(v)

    print(json.dumps(walk(value)))
