"""Truncated-SVD factorisation of Dense kernels to a parameter budget."""

import keras
import numpy as np
import pytest

from keras_linprune.baselines.svd import factorize_dense
from tests import factories as f


def test_full_share_reproduces_the_kernels_and_budgets_are_met():
    model = f.mlp((20, 64, 64, 4))
    x = f.data(64, 20)
    small, info = factorize_dense(model, target_params=model.count_params() // 3)
    assert small.count_params() == info["params"] <= model.count_params() // 3
    assert 0 < info["rank_share"] < 1
    # A rank-r factorisation is the best rank-r approximation of each kernel.
    layer = model.layers[2]
    down = small.get_layer(f"{layer.name}_down").get_weights()[0]
    up = small.get_layer(layer.name).get_weights()[0]
    kernel = layer.get_weights()[0]
    s = np.linalg.svd(kernel, compute_uv=False)
    r = down.shape[1]
    err = np.linalg.norm(kernel - down @ up)
    np.testing.assert_allclose(err, np.sqrt(np.sum(s[r:] ** 2)), rtol=1e-4)
    assert np.isfinite(small.predict(x, verbose=0)).all()


def test_only_chains_are_factorised():
    x = keras.Input((4,))
    a, b = keras.layers.Dense(4)(x), keras.layers.Dense(4)(x)
    branched = keras.Model(x, keras.layers.Add()([a, b]))
    with pytest.raises(ValueError, match="chain of layers"):
        factorize_dense(branched, target_params=10)
    with pytest.raises(ValueError, match="rank-1"):
        factorize_dense(f.mlp((20, 64, 64, 4)), target_params=5)
