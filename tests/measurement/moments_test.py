"""Second moments (`measurement/moments.py`): the sums refit's least squares
needs, checked against NumPy computed by hand, across merges, files and
passes."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.measurement.moments import Block, SiteMoments
from tests import factories as f


def one_site_dense():
    model = f.mlp((5, 7, 3), seed=3)
    return model, f.data(50, 5, seed=4)


def with_ones(a):
    return np.concatenate([a, np.ones((len(a), 1))], axis=1)


def test_dense_moments_equal_numpy():
    model, x = one_site_dense()
    stats = linprune.measure(model, x, moments=True, verbose=0)
    (site,) = stats.sites
    m = stats.moments[site]
    k, b = model.layers[1].get_weights()
    h = np.maximum(x.astype(np.float64) @ k + b, 0.0)
    features = with_ones(x.astype(np.float64))
    np.testing.assert_allclose(m.gram, features.T @ features, rtol=1e-10)
    np.testing.assert_allclose(m.cross, features.T @ h, rtol=1e-5, atol=1e-6)
    assert m.blocks == (Block(m.blocks[0].source, "dense", 5, ()),)
    assert stats.moments_nbytes == 8 * (6 * 6 + 6 * 7)


def im2col_same_3x3(x):
    """Patches of a 3x3 "same" convolution in the kernel's (row, col,
    channel) order, one row per output position, by hand."""
    n, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    rows = [
        padded[:, i : i + h, j : j + w, :].reshape(n, h, w, 1, c)
        for i in range(3)
        for j in range(3)
    ]
    return np.concatenate(rows, axis=3).reshape(n * h * w, 9 * c)


def test_conv_moments_read_the_kernels_patches():
    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 5, 2))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c")(inp)
    model = keras.Model(inp, keras.layers.Conv2D(2, 1, name="o")(h))
    x = np.random.default_rng(0).normal(size=(6, 5, 5, 2)).astype("float32")
    m = linprune.measure(model, x, moments=True, verbose=0).moments["c"]
    features = with_ones(im2col_same_3x3(x.astype(np.float64)))
    np.testing.assert_allclose(m.gram, features.T @ features, rtol=1e-10, atol=1e-10)
    target = np.asarray(model.get_layer("c")(x)).reshape(-1, 4)
    np.testing.assert_allclose(m.cross, features.T @ target, rtol=1e-5, atol=1e-5)
    assert m.blocks[0].taps == (3, 3)


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


def test_a_stats_file_with_edited_moments_is_refused(tmp_path):
    model, x = one_site_dense()
    path = tmp_path / "s.npz"
    linprune.measure(model, x, moments=True, verbose=0).save(path)
    fields = dict(np.load(path))
    key = next(k for k in fields if k.endswith("/gram"))
    fields[key] = fields[key] * 2.0
    np.savez(path, **fields)
    with pytest.raises(linprune.StatsFileError, match="digest"):
        linprune.ActivationStats.load(path)


def test_moments_must_be_a_flag():
    model, x = one_site_dense()
    with pytest.raises(TypeError, match="moments"):
        linprune.measure(model, x, moments="yes", verbose=0)


def test_moments_that_would_not_fit_are_refused_before_reading(monkeypatch):
    from keras_linprune.measurement import moment_probe as moments_lib

    model = f.mlp((6, 24, 16, 3))
    x = f.data(300, 6)
    reads = []

    def batches():
        for i in range(0, len(x), 100):
            reads.append(i)
            yield x[i : i + 100]

    import tensorflow as tf

    data = tf.data.Dataset.from_generator(
        batches, output_signature=tf.TensorSpec((None, 6), tf.float32)
    )
    # Sums of sites reading 6 + 24 features and 16 neurons: a few kB.
    monkeypatch.setattr(moments_lib, "physical_memory", lambda: 4_000)
    with pytest.raises(ValueError, match=r"fit in memory.*'d1'.*moments=True"):
        linprune.measure(model, data, moments=True, verbose=0)
    assert reads == []
    monkeypatch.setattr(moments_lib, "physical_memory", lambda: None)  # unknown
    stats = linprune.measure(model, data, moments=True, verbose=0)
    assert stats.moments_nbytes > 0 and reads
