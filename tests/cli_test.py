import keras
import numpy as np
import pandas as pd
import pytest

from keras_linprune import cli
from tests import factories as f


def test_compress_command(tmp_path, capsys):
    model = f.shape_biases(f.mlp())
    model_path, data_path = tmp_path / "m.keras", tmp_path / "x.npy"
    out, report = tmp_path / "small.keras", tmp_path / "report.csv"
    model.save(model_path)
    x = f.data()
    np.save(data_path, x)
    code = cli.main(
        [
            "compress",
            str(model_path),
            "--data",
            str(data_path),
            "--out",
            str(out),
            "--threshold",
            "1.0",
            "--layer-threshold",
            "0",
            "--objective",
            "macs",
            "--report",
            str(report),
        ]
    )
    assert code == 0
    small = keras.saving.load_model(out)
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    frame = pd.read_csv(report)
    assert frame["linear"].sum() > 0
    assert (frame["macs_after"] <= frame["macs_before"]).all()
    text = capsys.readouterr().out
    assert "Total params" in text and "Saved" in text
    assert "Total MACs per example" in text


def test_compress_reports_bad_input(tmp_path, capsys):
    model_path, data_path = tmp_path / "m.keras", tmp_path / "x.npy"
    f.mlp().save(model_path)
    np.save(data_path, np.zeros((4, 3), "float32"))
    code = cli.main(
        [
            "compress",
            str(model_path),
            "--data",
            str(data_path),
            "--out",
            str(tmp_path / "o.keras"),
        ]
    )
    assert code == 2
    assert "Expected calibration data of shape" in capsys.readouterr().err
    assert (
        cli.main(
            ["compress", "missing.keras", "--data", str(data_path), "--out", "o.keras"]
        )
        == 2
    )


def test_layer_threshold_parsing():
    assert cli._layer_threshold("3") == 3
    assert cli._layer_threshold("0.5") == 0.5
    assert cli._layer_threshold("optimal") == "optimal"


@pytest.mark.slow
def test_demo_runs(capsys):
    assert cli.main(["demo", "--epochs", "1"]) == 0
    text = capsys.readouterr().out
    assert "test acc" in text and "Total params" in text


def test_compress_with_a_size_target(tmp_path, capsys):
    model = f.shape_biases(f.mlp((6, 64, 64, 3)), on=0.3, dead=0.1)
    model_path, data_path = tmp_path / "m.keras", tmp_path / "x.npy"
    model.save(model_path)
    np.save(data_path, f.data())
    out = tmp_path / "small.keras"
    assert (
        cli.main(
            [
                "compress",
                str(model_path),
                "--data",
                str(data_path),
                "--out",
                str(out),
                "--target-size",
                "0.5",
                "--refit",
            ]
        )
        == 0
    )
    small = keras.saving.load_model(out)
    assert small.count_params() <= 0.5 * model.count_params()
    assert (
        cli.main(
            [
                "compress",
                str(model_path),
                "--data",
                str(data_path),
                "--out",
                str(out),
                "--target-size",
                "0.5",
                "--threshold",
                "0.9",
                "--force",
            ]
        )
        == 2
    )
    assert "either `threshold` or a size target" in capsys.readouterr().err
