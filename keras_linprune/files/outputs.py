"""Checking and writing the command line's output files.

Output paths are checked before any work (folder exists and is writable,
suffix, no silent overwrite, never the input file), and every file is
written to a temporary file beside it and renamed into place at the end, so
a failure or a kill never destroys an existing file or leaves a half-written
one.
"""

import contextlib
import os

from keras_linprune.files.atomic import atomic_path
from keras_linprune.files.inputs import FileProblem


def check_writable(path, what, suffix, *, force, inputs=()):
    """Raises `FileProblem` unless `path` can be written as the `what` file.

    Args:
        path: The output path.
        what: What it is, for messages ("model", "report").
        suffix: Required suffix (".keras", ".csv").
        force: Whether an existing file may be replaced.
        inputs: Paths of input files, which are never overwritten.
    """
    if not path.lower().endswith(suffix):
        raise FileProblem(
            f"expected the {what} path to end in {suffix}; received: {path}"
        )
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        raise FileProblem(f"the folder of the {what} file does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise FileProblem(f"the folder of the {what} file is not writable: {folder}")
    for source in inputs:
        if os.path.exists(path) and os.path.samefile(path, source):
            raise FileProblem(
                f"the {what} file would overwrite the input {source}; choose "
                "another path"
            )
    if os.path.isdir(path):
        raise FileProblem(f"the {what} path is a folder: {path}")
    if os.path.lexists(path) and not force:
        raise FileProblem(
            f"the {what} file exists: {path} (pass --force to replace it)"
        )


@contextlib.contextmanager
def staged(paths):
    """Temporary paths for several outputs, renamed into place together
    only when the block ends without an error.

    Args:
        paths: Mapping from a name to a final path (or `None`: no file).

    Yields:
        Mapping from each name to its temporary path (or `None`).
    """
    with contextlib.ExitStack() as stack:
        temps = {
            name: None if path is None else stack.enter_context(atomic_path(path))
            for name, path in paths.items()
        }
        yield temps
