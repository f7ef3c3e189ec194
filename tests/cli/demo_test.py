"""`linprune demo` end to end (slow: it trains)."""

import subprocess
import sys

import pytest

from keras_linprune import cli


@pytest.mark.slow
def test_demo_runs(capsys):
    assert cli.main(["demo", "--epochs", "1"]) == 0
    text = capsys.readouterr().out
    assert "test acc" in text and "Total params" in text


@pytest.mark.slow
def test_what_a_newcomer_sees_fits_a_terminal():
    """Issue 24: in a fresh process, `linprune demo 2>&1` starts with the
    package's own output (no TensorFlow notices), every line fits 100
    columns, and one per-site table plus one summary make ~30 lines."""
    done = subprocess.run(
        [sys.executable, "-m", "keras_linprune.cli", "demo", "--epochs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Training digits_mlp on scikit-learn digits")
    assert max(len(line) for line in lines) <= 100
    assert 20 <= len(lines) <= 40
    assert sum("Total params" in line for line in lines) == 1  # one site table
    assert sum(line.startswith(" threshold") for line in lines) == 1
