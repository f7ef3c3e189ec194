"""Faithful copies: config, weights and state, sharing nothing."""

import keras
import numpy as np
import pytest

from keras_linprune.graph import copier, nodes
from tests import factories as f


def test_a_copy_has_the_config_and_weights_but_shares_nothing():
    x = keras.Input((3,))
    dense = keras.layers.Dense(2, kernel_regularizer="l2", name="d")
    model = keras.Model(x, dense(x))
    (node,) = nodes.ordered_nodes(model)
    fresh = keras.Input((3,))
    out = copier.LayerCopier().call(node, {id(x): fresh}, name="d_copy")
    new = keras.Model(fresh, out).layers[-1]
    assert new is not dense and new.name == "d_copy"
    assert new.kernel_regularizer is not None
    for a, b in zip(new.get_weights(), dense.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert all(
        w1 is not w2 for w1 in new.weights for w2 in dense.weights
    )  # no shared variable


def test_an_adapted_normalization_keeps_its_statistics():
    norm = keras.layers.Normalization()
    norm.adapt(np.array([[0.0], [2.0], [4.0]], "float32"))
    x = keras.Input((1,))
    model = keras.Model(x, norm(x))
    (node,) = nodes.ordered_nodes(model)
    fresh = keras.Input((1,))
    out = copier.LayerCopier().call(node, {id(x): fresh})
    values = keras.Model(fresh, out).predict(np.array([[2.0]], "float32"), verbose=0)
    np.testing.assert_allclose(values, [[0.0]], atol=1e-6)


def test_a_layer_that_cannot_be_recreated_is_named_before_any_work():
    x = keras.Input((3,))
    model = keras.Model(x, f.Forgetful(2.0)(keras.layers.Dense(3)(x)))
    with pytest.raises(ValueError, match="re-creatable from its config"):
        copier.check_copyable(model)


class TokenAndPositionEmbedding(keras.layers.Layer):
    """keras.io's layer: an `__init__` without `**kwargs` (and no
    `get_config`: Keras records the constructor arguments)."""

    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = keras.layers.Embedding(vocab_size, embed_dim)
        self.pos_emb = keras.layers.Embedding(maxlen, embed_dim)

    def call(self, x):
        positions = keras.ops.arange(0, keras.ops.shape(x)[-1])
        return self.token_emb(x) + self.pos_emb(positions)


def test_a_layer_whose_init_takes_no_kwargs_is_copied_from_its_own_keys():
    """Issue 20: it was refused ("unexpected keyword argument 'name'")."""
    x = keras.Input((10,), dtype="int32")
    h = TokenAndPositionEmbedding(10, 50, 8)(x)
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(h))
    model = keras.Model(x, keras.layers.Dense(2)(h))
    tokens = np.random.default_rng(0).integers(0, 50, (64, 10)).astype("int32")

    small, _ = f.compress_exact(model, tokens)

    f.assert_close(small(tokens), model(tokens))
    copy = small.get_layer(model.layers[1].name)
    assert type(copy) is TokenAndPositionEmbedding and copy is not model.layers[1]
    shared = {id(v) for v in model.weights} & {id(v) for v in small.weights}
    assert not shared
