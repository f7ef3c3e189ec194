"""Writing files so that a crash never leaves a half-written one.

The content goes to a temporary file in the target's folder, which is then
renamed over the target (`os.replace`, atomic on POSIX and Windows): the
target is either the old file or the complete new one. A symlink at the
target is replaced, not followed.
"""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path to write to; renamed to `path` when the block ends
    without an error, removed otherwise.

    The temporary name keeps `path`'s suffix (Keras picks the format from
    it) and starts with a dot, so it is hidden while being written.

    Example:

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("done")
    >>> target.read_text()
    'done'
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    base, suffix = os.path.splitext(name)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{suffix}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
