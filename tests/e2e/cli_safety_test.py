"""The command line never loses a user's file and never shows a traceback."""

import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest

from keras_linprune import cli
from tests import factories as f


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    model = f.shape_biases(f.mlp())
    model.save(folder / "m.keras")
    x = f.data()
    np.save(folder / "x.npy", x)
    return folder, model, x


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def compress(capsys, folder, out, *extra, model="m.keras", data="x.npy"):
    """`linprune compress` on the fixture's model and data."""
    return run(
        capsys,
        "compress",
        folder / model,
        "--data",
        folder / data,
        "--out",
        out,
        *extra,
    )


def one_error_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("linprune: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_existing_output_is_not_overwritten_without_force(tmp_path, files, capsys):
    folder, _, _ = files
    out = tmp_path / "small.keras"
    out.write_bytes(b"precious")
    code, _, err = compress(capsys, folder, out)
    assert code == 2 and "--force" in one_error_line(err)
    assert out.read_bytes() == b"precious"
    code, _, _ = compress(capsys, folder, out, "--force")
    assert code == 0 and keras.saving.load_model(out).count_params() > 0


def test_output_equal_to_the_input_model_is_refused(tmp_path, files, capsys):
    _, model, x = files
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    before = (tmp_path / "m.keras").read_bytes()
    code, _, err = compress(capsys, tmp_path, tmp_path / "m.keras", "--force")
    assert code == 2 and "overwrite the input" in one_error_line(err)
    assert (tmp_path / "m.keras").read_bytes() == before


def test_a_symlinked_output_is_replaced_not_followed(tmp_path, files, capsys):
    folder, _, _ = files
    victim = tmp_path / "victim.keras"
    victim.write_bytes(b"other file")
    link = tmp_path / "small.keras"
    link.symlink_to(victim)
    code, _, _ = compress(capsys, folder, link, "--force")
    assert code == 0
    assert victim.read_bytes() == b"other file"
    assert not link.is_symlink()


def test_a_failed_report_leaves_no_result(tmp_path, files, capsys, monkeypatch):
    folder, _, _ = files
    out, report = tmp_path / "small.keras", tmp_path / "r.csv"

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    code, _, err = compress(capsys, folder, out, "--report", report)
    assert code == 2 and "disk full" in one_error_line(err)
    assert sorted(os.listdir(tmp_path)) == []


def bad_cases(folder, tmp):
    m, x = folder / "m.keras", folder / "x.npy"
    (tmp / "corrupt.keras").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp / "text.keras").write_text("hello")
    (tmp / "x.txt").write_text("1 2 3")
    (tmp / "words.csv").write_text("a,b\nx,y\n")
    (tmp / "pickled.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp / "empty.npz").write_bytes(b"")
    np.save(tmp / "obj.npy", np.array([object()]), allow_pickle=True)
    os.mkdir(tmp / "dir.keras")
    out = tmp / "o.keras"
    return {
        "missing model": (
            [tmp / "nope.keras", "--data", x, "--out", out],
            "no such model",
        ),
        "missing data": ([m, "--data", tmp / "nope.npy", "--out", out], "no such data"),
        "model suffix": ([x, "--data", x, "--out", out], "model file ending"),
        "data suffix": ([m, "--data", tmp / "x.txt", "--out", out], "data file ending"),
        "corrupt model": (
            [tmp / "corrupt.keras", "--data", x, "--out", out],
            "not a valid .keras",
        ),
        "text model": (
            [tmp / "text.keras", "--data", x, "--out", out],
            "not a valid .keras",
        ),
        "model is a folder": (
            [tmp / "dir.keras", "--data", x, "--out", out],
            "not a file",
        ),
        "csv words": ([m, "--data", tmp / "words.csv", "--out", out], "non-numeric"),
        "bad npy": ([m, "--data", tmp / "pickled.npy", "--out", out], "cannot read"),
        "empty npz": ([m, "--data", tmp / "empty.npz", "--out", out], "cannot read"),
        "pickled npy": ([m, "--data", tmp / "obj.npy", "--out", out], "cannot read"),
        "out suffix": ([m, "--data", x, "--out", tmp / "o.h5"], "end in .keras"),
        "out folder": (
            [m, "--data", x, "--out", tmp / "no" / "o.keras"],
            "does not exist",
        ),
        "out is folder": (
            [m, "--data", x, "--out", tmp / "dir.keras", "--force"],
            "is a folder",
        ),
        "report suffix": (
            [m, "--data", x, "--out", out, "--report", tmp / "r.txt"],
            "end in .csv",
        ),
        "wrong shape": (
            [m, "--data", tmp / "wrong.npy", "--out", out],
            "Expected calibration data of shape",
        ),
        "bad threshold": (
            [m, "--data", x, "--out", out, "--threshold", "2"],
            "threshold",
        ),
        "target and threshold": (
            [
                m,
                "--data",
                x,
                "--out",
                out,
                "--threshold",
                "0.9",
                "--target-size",
                "0.5",
            ],
            "size target",
        ),
        "bad layer threshold": (
            [m, "--data", x, "--out", out, "--layer-threshold", "best-ever"],
            "layer_threshold",
        ),
        "bad batch size": (
            [m, "--data", x, "--out", out, "--batch-size", "0"],
            "batch_size",
        ),
        "unreachable target": (
            [m, "--data", x, "--out", out, "--target-params", "1"],
            "reachable size target",
        ),
    }


def test_every_user_error_is_one_line_and_exit_2(tmp_path, files, capsys):
    folder, _, _ = files
    np.save(tmp_path / "wrong.npy", np.zeros((4, 3), "float32"))
    for name, (args, match) in bad_cases(folder, tmp_path).items():
        code, _, err = run(capsys, "compress", *args)
        assert code == 2, name
        assert match in one_error_line(err), (name, err)
    assert not (tmp_path / "o.keras").exists()


def test_csv_and_npz_data(tmp_path, files, capsys):
    folder, model, x = files
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame.to_csv(tmp_path / "x.csv", index=False)  # with a header row
    np.savez(tmp_path / "x.npz", x=x)
    for data in ("x.csv", "x.npz"):
        out = tmp_path / f"{data}.keras"
        code, _, _ = run(
            capsys,
            "compress",
            folder / "m.keras",
            "--data",
            tmp_path / data,
            "--out",
            out,
        )
        assert code == 0
        small = keras.saving.load_model(out)
        f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0))


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["compress", "m.keras"])  # --data and --out missing
    assert stop.value.code == 2
    assert "required" in capsys.readouterr().err


@pytest.mark.slow
def test_killed_during_save_keeps_the_previous_file(tmp_path):
    """SIGKILL while the output is being written leaves the existing file
    byte for byte (the new one is written beside it, then renamed)."""
    keras.utils.set_random_seed(0)
    x = keras.Input((512,))
    h = keras.layers.Dense(2048, activation="relu")(x)
    model = keras.Model(x, keras.layers.Dense(2048)(h))  # ~21 MB to save
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", f.data(64, 512))
    out = tmp_path / "small.keras"
    out.write_bytes(b"the previous result")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keras_linprune.cli",
            "compress",
            str(tmp_path / "m.keras"),
            "--data",
            str(tmp_path / "x.npy"),
            "--out",
            str(out),
            "--force",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(name.endswith(".tmp.keras") for name in os.listdir(tmp_path)):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the save finished before the kill"
    assert out.read_bytes() == b"the previous result"
