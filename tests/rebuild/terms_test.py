"""Emitting one planned linear node: its layers carry the folded weights."""

import keras
import numpy as np

from keras_linprune.analysis import analyse
from keras_linprune.plan import planner
from keras_linprune.rebuild import weights
from keras_linprune.rebuild.names import Names
from keras_linprune.rebuild.terms import LinearEmitter


def test_a_consumer_reads_its_input_and_the_shortcut_through_one_kernel():
    keras.utils.set_random_seed(0)
    x = keras.Input((3,), name="x")
    h = keras.layers.Dense(4, activation="relu", name="d0")(x)
    model = keras.Model(x, keras.layers.Dense(2, name="d1")(h))
    analysis = analyse(model)
    # Neurons 0 and 1 always active (fold), 2 and 3 sometimes (kept).
    rates = {"d0": np.array([1.0, 1.0, 0.5, 0.5])}
    plan = planner.make_plan(analysis.spec, rates, layer_threshold=0, shortcut="dense")
    affines = weights.folded_weights(analysis, plan)
    layers = {layer.name: layer for layer in model.layers}
    emitter = LinearEmitter(analysis.spec, affines, plan.layout, layers, Names(layers))
    kept, source = keras.Input((2,)), keras.Input((3,))
    terms = affines["d1"].terms
    inputs = dict(zip(terms, [kept, source]))  # term order: own input first
    out = emitter.emit(model.get_layer("d1"), inputs, is_output=True)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 2)), rng.normal(size=(5, 3))
    got = keras.Model([kept, source], out).predict([a, b], verbose=0)
    (own, shortcut) = terms.values()
    np.testing.assert_allclose(
        got, a @ own + b @ shortcut + affines["d1"].bias, rtol=1e-5, atol=1e-5
    )
