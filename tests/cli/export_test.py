"""`linprune export` and `compress`'s export flags: every file written, or none."""

import json
import os

import numpy as np
import pytest

from keras_linprune import cli
from tests import factories as f


def test_export_command_writes_every_format(tmp_path, compressed, capsys):
    model, small, x = compressed
    small.save(tmp_path / "small.keras")
    code = cli.main(
        [
            "export",
            str(tmp_path / "small.keras"),
            "--saved-model",
            str(tmp_path / "served"),
            "--version",
            "4",
            "--tflite",
            str(tmp_path / "small.tflite"),
            "--onnx",
            str(tmp_path / "small.onnx"),
        ]
    )
    assert code == 0
    assert os.path.isfile(tmp_path / "served" / "4" / "saved_model.pb")
    assert (tmp_path / "small.tflite").stat().st_size > 0
    assert (tmp_path / "small.onnx").stat().st_size > 0
    assert "operators: builtins" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra,message",
    [
        ([], "nothing to export"),
        (["--tflite", "out.bin"], "end in .tflite"),
        (["--version", "2", "--tflite", "o.tflite"], "--version needs --saved-model"),
    ],
)
def test_export_command_refuses_before_any_work(
    tmp_path, compressed, capsys, extra, message
):
    _, small, _ = compressed
    small.save(tmp_path / "small.keras")
    os.chdir(tmp_path)
    code = cli.main(["export", "small.keras", *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["small.keras"]


def test_compress_command_exports_too(tmp_path):
    model = f.shape_biases(f.mlp())
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", f.data())
    code = cli.main(
        [
            "compress",
            str(tmp_path / "m.keras"),
            "--data",
            str(tmp_path / "x.npy"),
            "--out",
            str(tmp_path / "small.keras"),
            "--saved-model",
            str(tmp_path / "served"),
            "--tflite",
            str(tmp_path / "small.tflite"),
        ]
    )
    assert code == 0
    assert os.path.isfile(tmp_path / "served" / "1" / "saved_model.pb")
    assert (tmp_path / "small.tflite").stat().st_size > 0


def test_export_command_json(tmp_path, compressed, capsys):
    _, small, _ = compressed
    small.save(tmp_path / "small.keras")
    args = ["export", str(tmp_path / "small.keras"), "--json"]
    assert cli.main([*args, "--saved-model", str(tmp_path / "served")]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written == {"saved_model": str(tmp_path / "served" / "1")}
