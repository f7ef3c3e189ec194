"""`linprune demo` end to end (slow: it trains)."""

import pytest

from keras_linprune import cli


@pytest.mark.slow
def test_demo_runs(capsys):
    assert cli.main(["demo", "--epochs", "1"]) == 0
    text = capsys.readouterr().out
    assert "test acc" in text and "Total params" in text
