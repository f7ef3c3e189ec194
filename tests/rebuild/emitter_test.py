"""Rebuild on hand-made plans: what is emitted, with which weights.

Expected weights are computed here from the original weights with plain
NumPy (the fold of docs/method.md, section 2), not by the code under test.
"""

import keras
import numpy as np

from keras_linprune.analysis import analyse
from keras_linprune.plan import decisions
from keras_linprune.rebuild import rebuild
from keras_linprune.rebuild.names import Names

L = keras.layers


def mlp():
    keras.utils.set_random_seed(0)
    x = keras.Input((5,), name="x")
    h = L.Dense(6, activation="relu", name="p")(x)
    return keras.Model(x, L.Dense(3, name="c")(h), name="net")


def plan_for(analysis, rates, **options):
    options.setdefault("layer_threshold", 0)
    options.setdefault("shortcut", "dense")
    return decisions.make_plan(analysis.spec, rates, **options)


def test_nothing_folded_is_an_identical_independent_copy():
    model = mlp()
    analysis = analyse(model)
    plan = plan_for(analysis, {"p": np.full(6, 0.5)})
    small = rebuild(analysis, plan)
    assert [(layer.name, type(layer)) for layer in small.layers] == [
        (layer.name, type(layer)) for layer in model.layers
    ]
    for a, b in zip(small.layers, model.layers):
        assert a is not b
        for wa, wb in zip(a.weights, b.weights):
            assert wa is not wb
            np.testing.assert_array_equal(np.asarray(wa), np.asarray(wb))


def test_linear_neurons_move_onto_a_shortcut():
    model = mlp()
    (wp, bp), (wc, bc) = (model.get_layer(n).get_weights() for n in "pc")
    linear, keep = [0, 2, 5], [1, 3, 4]
    rates = np.zeros(6) + 0.5
    rates[linear] = 1.0
    analysis = analyse(model)
    small = rebuild(analysis, plan_for(analysis, {"p": rates}))
    names = [layer.name for layer in small.layers]
    assert "c_shortcut_x" in names and "c_add" not in names  # output
    np.testing.assert_allclose(small.get_layer("p").get_weights()[0], wp[:, keep])
    main = small.get_layer("c_linear").get_weights()
    np.testing.assert_allclose(main[0], wc[keep], rtol=1e-6)
    np.testing.assert_allclose(
        main[1], bc + bp[linear] @ wc[linear], rtol=1e-5, atol=1e-6
    )
    (shortcut,) = small.get_layer("c_shortcut_x").get_weights()
    np.testing.assert_allclose(
        shortcut, wp[:, linear] @ wc[linear], rtol=1e-5, atol=1e-6
    )
    assert small.output_names == model.output_names == ["c"]
    assert isinstance(small.get_layer("c"), L.Add)


def test_dead_neurons_vanish_and_a_fully_folded_producer_disappears():
    model = mlp()
    (wp, bp), (wc, bc) = (model.get_layer(n).get_weights() for n in "pc")
    analysis = analyse(model)
    rates = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    small = rebuild(analysis, plan_for(analysis, {"p": rates}))
    assert [layer.name for layer in small.layers] == ["x", "c"]
    linear = [0, 1, 2, 5]
    kernel, bias = small.get_layer("c").get_weights()
    np.testing.assert_allclose(kernel, wp[:, linear] @ wc[linear], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, bc + bp[linear] @ wc[linear], rtol=1e-5, atol=1e-6)


def test_prelu_slopes_follow_the_kept_channels():
    keras.utils.set_random_seed(0)
    x = keras.Input((4,))
    h = L.PReLU(name="act")(L.Dense(5, name="p")(x))
    model = keras.Model(x, L.Dense(2, name="c")(h))
    alpha = np.arange(5, dtype="float32") / 10
    model.get_layer("act").set_weights([alpha])
    analysis = analyse(model)
    rates = np.zeros((2, 5)) + 0.5  # (off piece, on piece)
    rates[:, 1] = [1.0, 0.0]  # channel 1: always in PReLU's sloped piece
    small = rebuild(analysis, plan_for(analysis, {"act": rates}))
    np.testing.assert_allclose(
        small.get_layer("act").get_weights()[0], alpha[[0, 2, 3, 4]]
    )


def test_names_never_clash():
    names = Names({"c", "c_add"})
    assert names.unique("c_add") == "c_add_1"
    assert names.claim("c") == "c" and names.claim("c") == "c_1"
