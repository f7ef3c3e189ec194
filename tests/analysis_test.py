"""One analysis of a model: its flat graph, sites and layer tables."""

import keras
import pytest

from keras_linprune.analysis import analyse
from tests import factories as f


def test_an_mlp_has_one_site_per_hidden_layer_and_its_tables():
    model = f.mlp((5, 8, 8, 2))
    analysis = analyse(model)
    assert [s.producer for s in analysis.spec.sites] == [
        layer.name for layer in f.linear_layers(model)[:-1]
    ]
    assert sum(analysis.layer_params.values()) == model.count_params()
    assert analysis.spec.total_params == model.count_params()
    order = analysis.layer_order
    names = [layer.name for layer in model.layers if layer.name in order]
    assert sorted(names, key=order.get) == names
    assert analysis.fingerprint == analyse(model).fingerprint


def test_a_layer_that_cannot_be_copied_is_refused_before_any_work():
    x = keras.Input((3,))
    model = keras.Model(x, f.Forgetful(2.0)(keras.layers.Dense(3)(x)))
    with pytest.raises(ValueError, match="re-creatable"):
        analyse(model)
    analyse(model, check_copies=False)  # measuring copies nothing
