"""The commands' --plot files."""

import argparse

import pytest

from keras_linprune.cli import figures
from keras_linprune.files.inputs import FileProblem


def test_a_png_is_written_and_the_path_is_checked(tmp_path):
    path = tmp_path / "f.png"
    figures.save_png(str(path), lambda ax: ax.plot([0, 1], [1, 0]))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    args = argparse.Namespace(plot=str(tmp_path / "f.jpg"), force=False)
    with pytest.raises(FileProblem, match=".png"):
        figures.check_plot(args, ())
    figures.check_plot(argparse.Namespace(plot=None, force=False), ())
