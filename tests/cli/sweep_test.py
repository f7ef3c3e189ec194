"""`linprune sweep`: a table at every threshold, evaluated and plotted."""

import json

import numpy as np
import pandas as pd

from keras_linprune import cli


def test_sweep_with_evaluation_and_plot(saved, capsys):
    model, x, tmp = saved
    y = model.predict(x, verbose=0)
    np.savez(tmp / "eval.npz", x=x, y=y)
    table, plot = tmp / "sweep.csv", tmp / "sweep.png"
    code = cli.main(
        [
            "sweep",
            str(tmp / "m.keras"),
            "--data",
            str(tmp / "x.npy"),
            "--eval-data",
            str(tmp / "eval.npz"),
            "--metrics",
            "mae",
            "--thresholds",
            "0.9,1.0",
            "--out",
            str(table),
            "--plot",
            str(plot),
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["threshold"] for r in result["rows"]] == [0.9, 1.0]
    assert result["rows"][1]["mae"] < 1e-5  # threshold 1.0 is exact
    frame = pd.read_csv(table)
    assert list(frame.threshold) == [0.9, 1.0] and "total_macs" in frame
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_evaluation_data_needs_targets(saved, capsys):
    _, x, tmp = saved
    np.savez(tmp / "eval.npz", x=x)
    args = ["sweep", str(tmp / "m.keras"), "--data", str(tmp / "x.npy")]
    args += ["--eval-data", str(tmp / "eval.npz"), "--out", str(tmp / "s.csv")]
    assert cli.main(args) == 2
    assert "targets as `y`" in capsys.readouterr().err
    assert not (tmp / "s.csv").exists()
