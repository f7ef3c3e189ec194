"""Helpers of the site-matching tests: small graphs, their one rejection."""

import keras

from keras_linprune.graph.sites import find_sites


def sites_of(outputs_fn, shape=(4,)):
    keras.utils.set_random_seed(0)
    x = keras.Input(shape, name="x")
    return find_sites(keras.Model(x, outputs_fn(x)))


def only_rejection(found):
    assert not found.spec.sites
    (rejection,) = found.spec.rejected
    return rejection.reason
