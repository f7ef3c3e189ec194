"""Checking and writing the command line's output files."""

import os

import pytest

from keras_linprune.files import outputs
from keras_linprune.files.inputs import FileProblem


def test_outputs_are_checked_before_any_work(tmp_path):
    out = str(tmp_path / "small.keras")
    outputs.check_writable(out, "model", ".keras", force=False)
    for path, match in [
        (str(tmp_path / "small.h5"), "end in .keras"),
        (str(tmp_path / "no" / "small.keras"), "does not exist"),
        (str(tmp_path), "end in .keras"),
    ]:
        with pytest.raises(FileProblem, match=match):
            outputs.check_writable(path, "model", ".keras", force=False)


def test_existing_files_and_inputs_are_protected(tmp_path):
    existing = tmp_path / "small.keras"
    existing.write_text("user's file")
    with pytest.raises(FileProblem, match="--force"):
        outputs.check_writable(str(existing), "model", ".keras", force=False)
    outputs.check_writable(str(existing), "model", ".keras", force=True)
    with pytest.raises(FileProblem, match="overwrite the input"):
        outputs.check_writable(
            str(existing), "model", ".keras", force=True, inputs=[str(existing)]
        )


def test_staged_outputs_appear_together_or_not_at_all(tmp_path):
    paths = {"a": str(tmp_path / "a.csv"), "b": str(tmp_path / "b.csv"), "c": None}
    with pytest.raises(RuntimeError), outputs.staged(paths) as tmp:
        assert tmp["c"] is None
        for key in "ab":
            with open(tmp[key], "w") as f:
                f.write(key)
        raise RuntimeError("crash before the end")
    assert os.listdir(tmp_path) == []
    with outputs.staged(paths) as tmp:
        for key in "ab":
            with open(tmp[key], "w") as f:
                f.write(key)
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.csv"]
