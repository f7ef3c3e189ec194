"""Reading the command line's input files."""

import numpy as np
import pytest

from keras_linprune.files import inputs


def test_data_from_each_format(tmp_path):
    x = np.arange(6, dtype="float32").reshape(3, 2)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "one.npz", x)
    np.savez(tmp_path / "named.npz", left=x, right=x + 1)
    (tmp_path / "x.csv").write_text("a,b\n0,1\n2,3\n4,5\n")
    np.testing.assert_array_equal(inputs.load_data(str(tmp_path / "x.npy")), x)
    np.testing.assert_array_equal(inputs.load_data(str(tmp_path / "one.npz")), x)
    named = inputs.load_data(str(tmp_path / "named.npz"))
    assert sorted(named) == ["left", "right"]
    np.testing.assert_array_equal(inputs.load_data(str(tmp_path / "x.csv")), x)


def test_unreadable_files_raise_one_error_type(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(inputs.FileProblem, match="cannot read the data file"):
        inputs.load_data(str(tmp_path / "bad.npy"))
    with pytest.raises(inputs.FileProblem):
        inputs.load_data(str(tmp_path / "missing.npy"))
    with pytest.raises(inputs.FileProblem):
        inputs.load_data(str(tmp_path / "x.parquet"))


def test_eval_data_needs_targets(tmp_path):
    x, y = np.zeros((4, 2)), np.arange(4)
    np.savez(tmp_path / "ok.npz", x=x, y=y)
    np.savez(tmp_path / "no_y.npz", x=x)
    got_x, got_y = inputs.load_eval_data(str(tmp_path / "ok.npz"))
    np.testing.assert_array_equal(got_y, y)
    assert got_x.shape == (4, 2)
    with pytest.raises(inputs.FileProblem, match="targets as `y`"):
        inputs.load_eval_data(str(tmp_path / "no_y.npz"))
