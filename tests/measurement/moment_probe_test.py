"""Summing the moments over the data (`measurement/moment_probe.py`),
checked against NumPy computed by hand."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.measurement.moments import Block
from tests import factories as f


def with_ones(a):
    return np.concatenate([a, np.ones((len(a), 1))], axis=1)


def test_dense_moments_equal_numpy():
    model, x = f.one_site_dense()
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
    x = np.random.default_rng(0).normal(size=(8, 5, 5, 2)).astype("float32")
    m = linprune.measure(model, x, moments=True, verbose=0).moments["c"]
    features = with_ones(im2col_same_3x3(x.astype(np.float64)))
    np.testing.assert_allclose(m.gram, features.T @ features, rtol=1e-10, atol=1e-10)
    target = np.asarray(model.get_layer("c")(x)).reshape(-1, 4)
    np.testing.assert_allclose(m.cross, features.T @ target, rtol=1e-5, atol=1e-5)
    assert m.blocks[0].taps == (3, 3)


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
