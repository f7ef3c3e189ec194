"""Command line: `linprune demo | measure | compress | sweep | export | bench`.

Each command is a module here with `add_parser(subparsers)` and
`run(args)`. Every user error (a bad option, a missing or unreadable file,
an output that would overwrite a file) prints one line to stderr and exits
with status 2, as argparse does, before any compression runs. Outputs are
written to temporary files and renamed into place only when everything
succeeded. `--json` prints machine-readable results on stdout.
"""

import argparse
import os
import sys

from keras_linprune.cli import bench, compress, demo, export, measure, sweep

#: The commands, in the order `linprune --help` lists them.
COMMANDS = (demo, measure, compress, sweep, export, bench)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="linprune",
        description="Linearity-based compression of Keras 3 models.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub).set_defaults(run=command.run)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    # TensorFlow's C++ logs (including harmless Grappler "errors" about
    # generated layer names) would drown the report.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, ImportError) as e:
        return _fail(e)
    except KeyboardInterrupt:
        print("linprune: interrupted; no file was written", file=sys.stderr)
        return 130


def _fail(error):
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"linprune: error: {message}", file=sys.stderr)
    return 2
