"""Dead channels leave a separable convolution that reads them (Xception
blocks): zero in, zero after its depthwise stage, so the channel's depthwise
taps and pointwise rows go and nothing else changes."""

import keras
import numpy as np
import pytest

from tests import factories as f

L = keras.layers
DEAD, SATURATED, LINEAR = [0, 4], [3], [1]


def sep_model(multiplier=2, between=(), beside=False, separable=L.SeparableConv2D):
    """c0 (6 channels) -> ReLU6 -> [between] -> separable -> ReLU -> GAP -> head,
    and with `beside` a 1x1 Conv2D reading the activation too."""
    keras.utils.set_random_seed(0)
    two_d = separable is L.SeparableConv2D
    x = keras.Input((8, 8, 3) if two_d else (8, 3))
    conv = L.Conv2D if two_d else L.Conv1D
    act = L.ReLU(6.0, name="r0")(conv(6, 3, padding="same", name="c0")(x))
    h = act
    for layer in between:
        h = layer(h)
    h = separable(5, 3, padding="same", depth_multiplier=multiplier, name="sep")(h)
    pool = L.GlobalAveragePooling2D if two_d else L.GlobalAveragePooling1D
    h = pool()(L.ReLU()(h))
    if beside:
        h = L.Concatenate()([h, pool()(conv(2, 1, name="side")(act))])
    model = keras.Model(x, L.Dense(4, name="head")(h))
    c0 = model.get_layer("c0")
    kernel, bias = c0.get_weights()
    bias[DEAD], bias[SATURATED], bias[LINEAR] = -50.0, 50.0, 3.0
    kernel[..., DEAD + SATURATED + LINEAR] *= 0.01
    c0.set_weights([kernel, bias])
    return model, np.random.default_rng(0).uniform(-1, 1, (32, *x.shape[1:]))


@pytest.mark.parametrize("separable", [L.SeparableConv2D, L.SeparableConv1D])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_dead_channels_leave_the_separable_reader(separable, multiplier):
    model, x = sep_model(multiplier, separable=separable)

    small, report = f.compress_exact(model, x.astype("float32"))

    f.assert_close(small(x), model(x), atol=1e-5)
    row = report.set_index("site").loc["r0"]
    # the saturated (at 6) and linear channels stay
    assert (row.dead, row.constant, row.linear, row.units_after) == (2, 0, 0, 4)
    assert "'sep'" in row.reason and "only dead channels" in row.reason
    keep = [c for c in range(6) if c not in DEAD]
    depthwise, pointwise, bias = model.get_layer("sep").get_weights()
    rows = [c * multiplier + m for c in keep for m in range(multiplier)]
    got = small.get_layer("sep").get_weights()
    np.testing.assert_array_equal(got[0], depthwise[..., keep, :])
    np.testing.assert_array_equal(got[1], pointwise[..., rows, :])
    np.testing.assert_array_equal(got[2], bias)
    taps = 9 if separable is L.SeparableConv2D else 3
    removed = 2 * (taps * 3 + 1) + 2 * multiplier * (taps + 5)
    assert model.count_params() - small.count_params() == removed


def test_a_separable_and_a_conv_reading_one_activation_both_lose_the_channels():
    model, x = sep_model(beside=True)
    small, report = f.compress_exact(model, x.astype("float32"))
    assert report.set_index("site").loc["r0", "dead"] == 2
    assert small.get_layer("side").kernel.shape[-2] == 4
    assert small.get_layer("sep").depthwise_kernel.shape[-2] == 4


def test_normalization_before_the_separable_reader_is_refused():
    model, x = sep_model(between=[L.BatchNormalization(name="bn")])
    small, report = f.compress_exact(model, x.astype("float32"))
    row = report.set_index("site").loc["r0"]
    assert "normalization 'bn' sits before 'sep'" in row.reason
    assert small.count_params() == model.count_params()
