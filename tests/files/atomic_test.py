"""Atomic writes: the target is the old file or the complete new one."""

import os

import pytest

from keras_linprune.files.atomic import atomic_path


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.endswith(".keras") and os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["model.keras"]


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep")
    link = tmp_path / "out.txt"
    link.symlink_to(elsewhere)
    with atomic_path(link) as tmp, open(tmp, "w") as f:
        f.write("new")
    assert not link.is_symlink() and link.read_text() == "new"
    assert elsewhere.read_text() == "keep"
