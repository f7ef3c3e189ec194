"""Rebuild on hand-made plans: what is emitted, with which weights.

Expected weights are computed here from the original weights with plain
NumPy (the fold of docs/method.md, section 2), not by the code under test.
"""

import keras
import numpy as np

from keras_linprune.analysis import analyse
from keras_linprune.plan import planner
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
    return planner.make_plan(analysis.spec, rates, **options)


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


def test_linear_neurons_move_onto_a_shortcut_read_by_the_same_layer():
    model = mlp()
    (wp, bp), (wc, bc) = (model.get_layer(n).get_weights() for n in "pc")
    linear, keep = [0, 2, 5], [1, 3, 4]
    rates = np.zeros(6) + 0.5
    rates[linear] = 1.0
    analysis = analyse(model)
    small = rebuild(analysis, plan_for(analysis, {"p": rates}))
    # One Dense reads [kept neurons, x]: no shortcut layer, no Add.
    assert [layer.name for layer in small.layers] == ["x", "p", "c_inputs", "c"]
    assert isinstance(small.get_layer("c"), L.Dense)
    assert isinstance(small.get_layer("c_inputs"), L.Concatenate)
    np.testing.assert_allclose(small.get_layer("p").get_weights()[0], wp[:, keep])
    kernel, bias = small.get_layer("c").get_weights()
    np.testing.assert_allclose(kernel[:3], wc[keep], rtol=1e-6)
    np.testing.assert_allclose(
        kernel[3:], wp[:, linear] @ wc[linear], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(bias, bc + bp[linear] @ wc[linear], rtol=1e-5, atol=1e-6)
    assert small.output_names == model.output_names == ["c"]


def test_low_rank_shortcut_joins_through_its_first_half():
    model = mlp()
    (wp, bp), (wc, bc) = (model.get_layer(n).get_weights() for n in "pc")
    x = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")
    rates = np.zeros(6) + 0.5
    rates[[0]] = 1.0  # one linear neuron: a rank-1 shortcut is smaller
    analysis = analyse(model)
    small = rebuild(analysis, plan_for(analysis, {"p": rates}, shortcut="auto"))
    names = [layer.name for layer in small.layers]
    assert "c_shortcut_x_down" in names and not any("add" in n for n in names)
    assert small.get_layer("c_shortcut_x_down").get_weights()[0].shape == (5, 1)
    assert small.get_layer("c").get_weights()[0].shape == (5 + 1, 3)
    h = np.maximum(x @ wp + bp, 0)
    expected = h[:, 1:] @ wc[1:] + (x @ wp[:, :1] + bp[:1]) @ wc[:1] + bc
    np.testing.assert_allclose(small.predict(x, verbose=0), expected, atol=1e-5)


def test_a_term_of_another_geometry_is_added():
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 2), name="x")
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="p")(x)
    model = keras.Model(x, L.Conv2D(3, 1, activation="tanh", name="c")(h))
    analysis = analyse(model)
    rates = np.array([1.0, 0.5, 0.5, 0.5])
    small = rebuild(analysis, plan_for(analysis, {"p": rates}))
    names = [layer.name for layer in small.layers]
    assert names == ["x", "p", "c_linear", "c_shortcut_x", "c_add", "c"]
    assert small.get_layer("c_shortcut_x").get_weights()[0].shape == (3, 3, 2, 3)
    assert isinstance(small.get_layer("c"), L.Activation)
    xs = np.random.default_rng(1).normal(size=(4, 6, 6, 2)).astype("float32")
    (wp, bp), (wc, bc) = (model.get_layer(n).get_weights() for n in "pc")
    pre = keras.ops.convert_to_numpy(keras.ops.conv(xs, wp, padding="same")) + bp
    h = pre.copy()
    h[..., 1:] = np.maximum(h[..., 1:], 0)  # neuron 0: linear on these rates
    expected = np.tanh(h @ wc[0, 0] + bc)
    np.testing.assert_allclose(small(xs), expected, atol=1e-5)


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
