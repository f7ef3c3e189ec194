import json

import keras
import numpy as np
import pandas as pd
import pytest

import keras_linprune as linprune
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


def test_measure_then_compress_from_the_stats(saved, capsys):
    model, x, tmp = saved
    stats = tmp / "stats.npz"
    args = ["measure", str(tmp / "m.keras"), "--data", str(tmp / "x.npy")]
    assert cli.main([*args, "--out", str(stats)]) == 0
    assert "in one piece on every row" in capsys.readouterr().out
    assert cli.main([*args, "--out", str(stats)]) == 2  # exists: no --force
    assert "pass --force" in capsys.readouterr().err
    out = tmp / "small.keras"
    code = cli.main(
        ["compress", str(tmp / "m.keras"), "--stats", str(stats), "--out", str(out)]
    )
    assert code == 0
    small = keras.saving.load_model(out)
    direct, _ = linprune.apply(model, x, verbose=0)
    assert small.count_params() == direct.count_params() < model.count_params()
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_compress_refits_from_stats_measured_with_moments(saved, capsys):
    model, x, tmp = saved
    stats = tmp / "stats.npz"
    args = ["measure", str(tmp / "m.keras"), "--data", str(tmp / "x.npy")]
    assert cli.main([*args, "--out", str(stats)]) == 0
    compress = ["compress", str(tmp / "m.keras"), "--stats", str(stats), "--refit"]
    assert cli.main([*compress, "--out", str(tmp / "a.keras")]) == 2
    assert "moments=True" in capsys.readouterr().err
    assert cli.main([*args, "--out", str(stats), "--moments", "--force"]) == 0
    assert (
        cli.main([*compress, "--threshold", "0.9", "--out", str(tmp / "a.keras")]) == 0
    )
    small = keras.saving.load_model(tmp / "a.keras")
    direct, _ = linprune.apply(model, x, threshold=0.9, refit=True, verbose=0)
    f.assert_close(small.predict(x, verbose=0), direct.predict(x, verbose=0), atol=1e-5)


def test_compress_json_has_totals_sites_and_outputs(saved, capsys):
    _, _, tmp = saved
    out = tmp / "small.keras"
    code = cli.main(
        [
            "compress",
            str(tmp / "m.keras"),
            "--data",
            str(tmp / "x.npy"),
            "--out",
            str(out),
            "--plot",
            str(tmp / "sites.png"),
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)  # nothing else on stdout
    assert (tmp / "sites.png").read_bytes()[:4] == b"\x89PNG"
    assert result["outputs"]["plot"] == str(tmp / "sites.png")
    small = keras.saving.load_model(out)
    assert result["totals"]["params_after"] == small.count_params()
    assert result["outputs"]["model"] == str(out)
    assert {s["site"] for s in result["sites"]} == {"d0", "d1", "d2"}


def test_compress_takes_data_or_stats_not_both(saved, capsys):
    _, _, tmp = saved
    with pytest.raises(SystemExit):
        cli.main(
            [
                "compress",
                str(tmp / "m.keras"),
                "--data",
                str(tmp / "x.npy"),
                "--stats",
                str(tmp / "s.npz"),
                "--out",
                str(tmp / "o.keras"),
            ]
        )
    assert "not allowed with argument" in capsys.readouterr().err
