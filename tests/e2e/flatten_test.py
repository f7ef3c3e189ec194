"""Dead and constant channels of a convolution leave the Dense that reads
them through `Flatten` (or a `Reshape` to one axis): channel `c` is kernel
row `p * channels + c` at every position `p`."""

import keras
import numpy as np
import pytest

from tests import factories as f

L = keras.layers
DEAD, SATURATED = [0, 4], [2]  # channels of c0 pinned below 0 and above 6


def conv_flatten_dense(flatten=L.Flatten, between=(), pool=True, shape=(6, 6, 3)):
    """c0 (6 channels) -> ReLU6 -> [MaxPool] -> `flatten` -> [between] -> head."""
    keras.utils.set_random_seed(0)
    x = keras.Input(shape)
    h = L.Conv2D(6, 3, padding="same", name="c0")(x)
    h = L.ReLU(6.0, name="r0")(h)
    if pool:
        h = L.MaxPooling2D(name="pool")(h)
    h = flatten(name="flatten")(h)
    for layer in between:
        h = layer(h)
    model = keras.Model(x, L.Dense(3, name="head")(h))
    c0 = model.get_layer("c0")
    kernel, bias = c0.get_weights()
    bias[DEAD], bias[SATURATED] = -50.0, 50.0
    kernel[..., DEAD + SATURATED] *= 0.01
    c0.set_weights([kernel, bias])
    return model


def images(n=32, shape=(6, 6, 3)):
    return np.random.default_rng(0).uniform(-1, 1, (n, *shape)).astype("float32")


def expected_head(model):
    """The head's kernel without the removed channels' rows, and its bias
    with the saturated channels' rows times 6 (computed here from the
    original weights, channel c at position p being row p * 6 + c)."""
    kernel, bias = model.get_layer("head").get_weights()
    rows = kernel.reshape(-1, 6, kernel.shape[-1])  # (positions, channels, out)
    keep = [c for c in range(6) if c not in DEAD + SATURATED]
    new_bias = bias + 6.0 * rows[:, SATURATED].sum(axis=(0, 1))
    return rows[:, keep].reshape(-1, kernel.shape[-1]), new_bias


@pytest.mark.parametrize(
    "flatten", [L.Flatten, lambda name: L.Reshape((-1,), name=name)]
)
def test_dead_and_saturated_channels_leave_the_dense_after_flatten(flatten):
    model = conv_flatten_dense(flatten, between=[L.Dropout(0.2)])
    x = images()

    small, report = f.compress_exact(model, x, atol=1e-5)

    f.assert_close(small(x), model(x), atol=1e-5)
    row = report.set_index("site").loc["r0"]
    assert (row.units_after, row.dead, row.constant) == (3, 2, 1)
    assert row.consumers == "head"
    kernel, bias = expected_head(model)
    got_kernel, got_bias = small.get_layer("head").get_weights()
    np.testing.assert_allclose(got_kernel, kernel, atol=1e-6)
    np.testing.assert_allclose(got_bias, bias, rtol=1e-6)
    assert small.get_layer("c0").filters == 3
    assert small.count_params() == model.count_params() - 3 * (27 + 1) - 3 * 9 * 3


def test_linear_channels_do_not_fold_through_flatten():
    model = conv_flatten_dense(pool=False)
    c0 = model.get_layer("c0")
    kernel, bias = c0.get_weights()
    bias[[1, 3]] = 3.0  # inside ReLU6's linear piece on these inputs
    kernel[..., [1, 3]] *= 0.01
    c0.set_weights([kernel, bias])
    x = images()
    _, report = f.compress_exact(model, x)
    row = report.set_index("site").loc["r0"]
    assert row.linear == 0 and row.units_after == 3  # only dead and saturated go
    assert "'flatten' (Flatten) sits before the consumers" in row.reason


def test_batch_norm_after_flatten_is_refused_and_copied():
    model = conv_flatten_dense(between=[L.BatchNormalization(name="bn")])
    bn = model.get_layer("bn")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma * 2, beta + 1, mean, var + 1])
    small, report = f.compress_exact(model, images())
    row = report.set_index("site").loc["r0"]
    assert not row.folded and "normalization 'bn' follows 'flatten'" in row.reason
    assert small.count_params() == model.count_params()


@pytest.mark.parametrize(
    "flatten",
    [
        lambda name: L.Reshape((54,), name=name),  # a fixed size: not narrowable
        lambda name: L.Reshape((9, 6), name=name),  # positions x channels
    ],
)
def test_reshapes_other_than_flattening_are_refused_and_copied(flatten):
    model = conv_flatten_dense(flatten)
    small, report = f.compress_exact(model, images())
    row = report.set_index("site").loc["r0"]
    assert not row.folded
    assert "consumer 'flatten' (Reshape) is not a Dense or Conv layer" in row.reason
    assert small.count_params() == model.count_params()
