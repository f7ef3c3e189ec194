"""Dead channels removed through depthwise convolutions (MobileNet-style
blocks): the depthwise channel of a dead input is its bias everywhere, which
per-channel layers keep constant and a pointwise consumer absorbs.

Expected weights are the original ones at the kept channels, and the
project's bias gains what the removed channels contributed, computed here
with NumPy from the original weights."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f

L = keras.layers
DEAD = [0, 3, 4, 9, 10]


def block(
    consumer=lambda: L.Conv2D(4, 1, use_bias=False, name="project"),
    multiplier=1,
    dw_activation=lambda: L.ReLU(6.0, name="dw_relu"),
    pad=True,
):
    """expand 1x1 -> BN -> ReLU6 -> [pad] -> depthwise 3x3 -> BN -> act ->
    consumer, with a residual and a Dense head; channels `DEAD` of the
    expansion are dead, depthwise biases span ReLU6's three pieces."""
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 4), name="image")
    h = L.Conv2D(12, 1, use_bias=False, name="expand")(x)
    h = L.BatchNormalization(name="expand_bn")(h)
    h = L.ReLU(6.0, name="expand_relu")(h)
    if pad:
        h = L.ZeroPadding2D(name="pad")(h)
    h = L.DepthwiseConv2D(
        3, padding="valid" if pad else "same", depth_multiplier=multiplier, name="dw"
    )(h)
    h = L.BatchNormalization(name="dw_bn")(h)
    h = dw_activation()(h)
    h = consumer()(h)
    h = L.BatchNormalization(name="project_bn")(h)
    h = L.Add(name="residual")([x, h])
    y = L.Dense(3, name="head")(L.GlobalAveragePooling2D()(h))
    model = keras.Model(x, y)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),
                    rng.normal(size=n),
                    rng.normal(size=n) * 0.1,
                    rng.uniform(0.5, 2.0, n),
                ]
            )
    bn = model.get_layer("expand_bn")
    gamma, beta, mean, var = bn.get_weights()
    beta[DEAD] = -50.0
    bn.set_weights([gamma, beta, mean, var])
    dw = model.get_layer("dw")
    kernel, bias = dw.get_weights()
    dw.set_weights([kernel, np.linspace(-30.0, 40.0, bias.size)])
    return model


def images(n=64):
    return np.random.default_rng(0).normal(size=(n, 8, 8, 4)).astype("float32")


def test_dead_channels_removed_through_a_depthwise_block():
    model = block()
    x = images()
    small, report = f.compress_exact(model, x, atol=1e-4)
    f.assert_close(small(x), model(x), atol=1e-4)
    row = report.set_index("site").loc["expand_relu"]
    assert row.dead == len(DEAD) and row.consumers == "project"
    keep = np.setdiff1d(np.arange(12), DEAD)
    kernel, bias = model.get_layer("dw").get_weights()
    new_kernel, new_bias = small.get_layer("dw").get_weights()
    np.testing.assert_array_equal(new_kernel, kernel[..., keep, :])
    np.testing.assert_array_equal(new_bias, bias[keep])
    for old, new in zip(
        model.get_layer("dw_bn").get_weights(), small.get_layer("dw_bn").get_weights()
    ):
        np.testing.assert_array_equal(new, old[keep])
    # The project's bias: what the dead channels' constants contributed.
    gamma, beta, mean, var = model.get_layer("dw_bn").get_weights()
    eps = model.get_layer("dw_bn").epsilon
    constant = np.clip(gamma * (bias - mean) / np.sqrt(var + eps) + beta, 0, 6)
    (w_project,) = model.get_layer("project").get_weights()
    w_kept, b_new = small.get_layer("project").get_weights()
    np.testing.assert_allclose(w_kept, w_project[..., keep, :])
    np.testing.assert_allclose(
        b_new, constant[DEAD] @ w_project[0, 0, DEAD], rtol=1e-5, atol=1e-5
    )
    # 5 channels: expand (4 weights + the BN it absorbs as a bias), the
    # depthwise (9 + bias), dw_bn (4 statistics), project rows (4); the
    # project gains a bias (4) and expand_bn's 48 become 7 biases.
    saved = len(DEAD) * (4 + 10 + 4 + 4) - 4 + 48 - 7
    assert model.count_params() - small.count_params() == saved


@pytest.mark.parametrize(
    "make_activation",
    [
        lambda: L.ReLU(name="dw_relu"),
        lambda: L.PReLU(shared_axes=[1, 2], name="dw_relu"),
        lambda: L.Activation("relu6", name="dw_relu"),
    ],
)
def test_per_channel_layers_after_the_depthwise(make_activation):
    model = block(dw_activation=make_activation)
    small, report = f.compress_exact(model, images(), atol=1e-4)
    assert report.set_index("site").loc["expand_relu", "dead"] == len(DEAD)
    assert small.get_layer("dw").get_weights()[0].shape[-2] == 12 - len(DEAD)


def test_same_padding_depthwise_without_zero_padding_layer():
    model = block(pad=False)
    small, report = f.compress_exact(model, images(), atol=1e-4)
    assert report.set_index("site").loc["expand_relu", "dead"] == len(DEAD)


@pytest.mark.parametrize(
    "kwargs,reason",
    [
        (
            dict(consumer=lambda: L.Conv2D(4, 3, padding="same", name="project")),
            "has a padded kernel",
        ),
        (dict(multiplier=2), "depth_multiplier 2"),
        (dict(dw_activation=lambda: L.Activation("swish")), "not a Dense or Conv"),
    ],
)
def test_depthwise_paths_that_cannot_take_constants_are_refused(kwargs, reason):
    model = block(**kwargs)
    x = images()
    small, report = linprune.apply(model, x, verbose=0)
    row = report.set_index("site").loc["expand_relu"]
    assert reason in row.reason and row.dead == 0
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_site_read_by_a_depthwise_and_another_consumer_is_refused():
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 3))
    h = L.Conv2D(8, 1, activation="relu", name="p")(x)
    a = L.Conv2D(4, 1, name="a")(L.DepthwiseConv2D(3, padding="same", name="dw")(h))
    b = L.Conv2D(4, 1, name="b")(h)
    model = keras.Model(x, L.Add()([a, b]))
    _, report = linprune.apply(model, images()[:, :6, :6, :3], verbose=0)
    assert "both through 'dw' and otherwise" in report.reason.iloc[0]
