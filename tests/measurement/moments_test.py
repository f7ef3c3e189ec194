"""Second moments (`measurement/moments.py`): the sums refit's least squares
needs, checked against NumPy computed by hand, across merges, files and
passes."""

import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.measurement import moments as moments_lib
from keras_linprune.measurement.moments import Block, SiteMoments
from tests import factories as f


def test_normal_equations_select_kept_channels_and_neurons():
    block = Block("x", "k", width=3, taps=(2,))
    gram = np.arange(49.0).reshape(7, 7)
    cross = np.arange(14.0).reshape(7, 2)
    a, b = SiteMoments((block,), gram, cross).normal_equations(
        [(block, [0, 2])], [1], intercept=True
    )
    index = [0, 2, 3, 5, 6]  # channels 0 and 2 at both taps, then the ones
    np.testing.assert_array_equal(a, gram[np.ix_(index, index)])
    np.testing.assert_array_equal(b, cross[index][:, [1]])


def test_moments_of_other_features_do_not_add():
    one = SiteMoments((Block("x", "k", 2),), np.eye(3), np.ones((3, 1)))
    other = SiteMoments((Block("y", "k", 2),), np.eye(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="same features"):
        one + other


def test_merged_shards_equal_one_pass_and_survive_a_file(tmp_path):
    model = f.shape_biases(f.mlp((6, 24, 16, 3)), on=0.5, dead=0.1)
    x = f.data(300, 6)
    whole = linprune.measure(model, x, moments=True, verbose=0)
    parts = [
        linprune.measure(model, x[i : i + 100], moments=True, verbose=0)
        for i in (0, 100, 200)
    ]
    merged = linprune.ActivationStats.merge(*parts)
    assert merged.moments.keys() == whole.moments.keys()
    for site, m in whole.moments.items():
        np.testing.assert_allclose(merged.moments[site].gram, m.gram, rtol=1e-12)
        np.testing.assert_allclose(merged.moments[site].cross, m.cross, rtol=1e-12)
    without = linprune.measure(model, x[:10], verbose=0)
    assert linprune.ActivationStats.merge(parts[0], without).moments is None
    path = tmp_path / "s.npz"
    whole.save(path)
    again = linprune.ActivationStats.load(path)
    for site, m in whole.moments.items():
        np.testing.assert_array_equal(again.moments[site].gram, m.gram)
        assert again.moments[site].blocks == m.blocks


def test_the_file_form_of_moments_is_checked_against_their_blocks():
    blocks = (Block("x", "dense", 2), Block("h", "conv", 3, (2, 2)))
    size = 2 + 12 + 1
    m = SiteMoments(blocks, np.eye(size), np.ones((size, 4)))
    arrays = moments_lib.to_arrays({"s": m})
    names = moments_lib.array_names("s")
    again = moments_lib.from_arrays(*(arrays[n] for n in names))
    assert again.blocks == blocks
    np.testing.assert_array_equal(again.cross, m.cross)
    with pytest.raises(ValueError, match="Expected moments of 15 features"):
        moments_lib.from_arrays(arrays[names[0]], np.eye(3), np.ones((3, 4)))
    with pytest.raises(ValueError, match="feature blocks as JSON"):
        moments_lib.from_arrays(np.array("not json"), np.eye(3), np.ones((3, 4)))
    assert moments_lib.to_arrays(None) == {}
