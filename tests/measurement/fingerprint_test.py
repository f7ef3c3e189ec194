"""Model fingerprints: equal for the same weights, different otherwise."""

import keras
import numpy as np

from keras_linprune.analysis import analyse
from tests import factories as f


def test_stable_across_calls_and_clones_of_the_same_weights():
    model = f.mlp()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    assert analyse(model).fingerprint == analyse(model).fingerprint
    assert analyse(clone).fingerprint == analyse(model).fingerprint


def test_any_weight_change_changes_it():
    model = f.mlp()
    before = analyse(model).fingerprint
    layer = f.linear_layers(model)[0]
    kernel, bias = layer.get_weights()
    kernel[0, 0] = np.nextafter(kernel[0, 0], np.float32(np.inf))
    layer.set_weights([kernel, bias])
    assert analyse(model).fingerprint != before
