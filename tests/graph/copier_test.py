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
