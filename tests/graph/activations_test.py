import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.graph import activations, registry
from tests import factories as f

Z = np.linspace(-12, 12, 4801).astype("float32")


def pieces_agree(act, fn, z=Z, units=1):
    """Every piece's formula equals the Keras activation on its interval."""
    h = np.asarray(fn(np.tile(z[:, None], (1, units))))
    covered = 0
    for p in act.pieces:
        inside = (z > p.lo) & (z <= p.hi)
        slope = np.broadcast_to(np.asarray(p.slope), (units,))
        want = z[inside, None] * slope + p.offset
        np.testing.assert_allclose(h[inside], want, atol=1e-5)
        covered += inside.sum()
    return covered


@pytest.mark.parametrize(
    "name", ["relu", "relu6", "leaky_relu", "hard_sigmoid", "hard_silu", "elu"]
)
def test_function_pieces_match_keras(name):
    act = activations.describe_function(name)
    covered = pieces_agree(act, keras.activations.get(name))
    assert (covered == Z.size) == act.partition


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        dict(max_value=4.0),
        dict(negative_slope=0.1),
        dict(threshold=0.5),
        dict(max_value=4.0, negative_slope=0.1, threshold=0.5),
    ],
)
def test_relu_layer_pieces_match_keras(kwargs):
    layer = keras.layers.ReLU(**kwargs)
    assert pieces_agree(registry.kind_of(layer).describe(layer, 1), layer) == Z.size


def test_leaky_and_prelu_layer_pieces():
    leaky = keras.layers.LeakyReLU(negative_slope=0.25)
    assert pieces_agree(registry.kind_of(leaky).describe(leaky, 1), leaky) == Z.size
    prelu = keras.layers.PReLU()
    prelu.build((None, 3))
    prelu.set_weights([np.array([0.1, -0.2, 0.0], "float32")])
    act = registry.kind_of(prelu).describe(prelu, 3)
    assert pieces_agree(act, prelu, units=3) == Z.size
    assert not act.monotone


def test_prelu_with_per_position_slopes_is_refused():
    prelu = keras.layers.PReLU()
    prelu.build((None, 4, 3))
    prelu.set_weights([np.random.default_rng(0).normal(size=(4, 3)).astype("float32")])
    assert "vary across positions" in registry.kind_of(prelu).describe(prelu, 3)


def test_smooth_activation_is_a_reason():
    assert "not piecewise linear" in activations.describe_function("gelu")


def shaped(model, levels, seed=0, scale=0.05):
    """Hidden biases drawn from `levels`: pins neurons inside pieces."""
    rng = np.random.default_rng(seed)
    for layer in [
        layer for layer in model.layers if isinstance(layer, keras.layers.Dense)
    ][:-1]:
        k, b = layer.get_weights()
        b = rng.choice(levels, size=b.shape) + rng.normal(size=b.shape) * 0.3
        if rng.uniform() < 2:  # keep a few neurons that cross pieces
            b[: max(1, b.size // 8)] = 0.0
        layer.set_weights([k * scale, b.astype("float32")])
    return model


def act_mlp(make_activation, inline=None, widths=(6, 24, 20, 3)):
    keras.utils.set_random_seed(0)
    x = keras.Input((widths[0],))
    h = x
    for i, w in enumerate(widths[1:-1]):
        if inline:
            h = keras.layers.Dense(w, activation=inline, name=f"d{i}")(h)
        else:
            h = keras.layers.Dense(w, name=f"d{i}")(h)
            h = make_activation(f"a{i}")(h)
    return keras.Model(x, keras.layers.Dense(widths[-1], name="out")(h))


CASES = {
    "relu6_inline": (None, "relu6", [-50.0, 3.0, 50.0]),
    "relu6_layer": (
        lambda n: keras.layers.ReLU(max_value=6.0, name=n),
        None,
        [-50.0, 3.0, 50.0],
    ),
    "relu_params": (
        lambda n: keras.layers.ReLU(
            max_value=4.0, negative_slope=0.1, threshold=0.5, name=n
        ),
        None,
        [-50.0, 2.0, 50.0],
    ),
    "leaky_inline": (None, "leaky_relu", [-50.0, 50.0]),
    "leaky_layer": (lambda n: keras.layers.LeakyReLU(0.3, name=n), None, [-50.0, 50.0]),
    "prelu": (
        lambda n: keras.layers.PReLU(
            alpha_initializer=keras.initializers.RandomUniform(-0.5, 0.5), name=n
        ),
        None,
        [-50.0, 50.0],
    ),
    "hard_sigmoid_inline": (None, "hard_sigmoid", [-50.0, 0.0, 50.0]),
    "hard_silu_layer": (
        lambda n: keras.layers.Activation("hard_silu", name=n),
        None,
        [-50.0, 50.0],
    ),
    "elu_inline": (None, "elu", [-50.0, 50.0]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_piecewise_linear_sites_fold_exactly(case):
    make, inline, levels = CASES[case]
    model = shaped(act_mlp(make, inline), levels)
    x = f.data(400)
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert report.folded.all(), report
    assert report.linear.sum() > 0
    assert small.count_params() == report.attrs["params_after"]
    if 50.0 in levels and case.startswith(("relu6", "hard_sigmoid", "relu_params")):
        assert report.constant.sum() > 0  # saturated neurons, non-zero value


def test_smooth_activation_layer_is_named_and_left():
    model = act_mlp(lambda n: keras.layers.Activation("gelu", name=n))
    x = f.data(100)
    small, report = linprune.apply(model, x, verbose=0)
    assert not report.folded.any()
    assert report.reason.str.contains("'gelu' is not piecewise linear").all()
    np.testing.assert_allclose(
        small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
