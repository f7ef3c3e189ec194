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
    _import_tensorflow_quietly()
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, ImportError) as e:
        return _fail(e)
    except KeyboardInterrupt:
        print("linprune: interrupted; no file was written", file=sys.stderr)
        return 130


def _import_tensorflow_quietly():
    """Imports TensorFlow with file descriptor 2 on /dev/null: its native
    libraries print absl's and oneDNN's notices there while loading, before
    any log level applies (issue 24: four lines before the demo's output).
    The descriptor is restored before anything else runs; an import error
    is left to the command that needs TensorFlow to report."""
    if "tensorflow" in sys.modules:
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr is not a file
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                pass
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _fail(error):
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"linprune: error: {message}", file=sys.stderr)
    return 2
