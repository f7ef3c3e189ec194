"""Dead and constant channels of a convolution leave the Dense that reads
them through `Flatten` (or a `Reshape` to one axis): channel `c` is kernel
row `p * channels + c` at every position `p`."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
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


def flatten_head(always_on=12, width=16):
    """c0 (8 channels) -> Flatten -> hidden (Dense `width`, ReLU, the
    first `always_on` neurons active on every input) -> head (Dense 3)."""
    keras.utils.set_random_seed(1)
    x = keras.Input((6, 6, 3))
    h = L.Conv2D(8, 3, activation="relu", name="c0")(x)
    h = L.Flatten(name="flatten")(h)
    h = L.Dense(width, activation="relu", name="hidden")(h)
    model = keras.Model(x, L.Dense(3, name="head")(h))
    hidden = model.get_layer("hidden")
    kernel, bias = hidden.get_weights()
    kernel[:, :always_on] *= 0.01
    bias[:always_on] = 5.0
    hidden.set_weights([kernel, bias])
    return model


def test_a_fold_behind_flatten_joins_its_consumer_as_one_layer():
    """Issue 23: the shortcut from the flattened features is a block of
    the head's own kernel (the head reads [kept units, flattened features]
    through one Concatenate), not a low-rank pair beside it."""
    model = flatten_head()
    x = images(64)

    small, report = f.compress_exact(model, x, atol=1e-5, layer_threshold="optimal")

    f.assert_close(small(x, training=False), model(x, training=False), atol=1e-5)
    row = report.set_index("site").loc["hidden"]
    assert row.folded and row.linear == 12 and row.shortcut_form == "dense"
    features = 4 * 4 * 8  # c0's output, flattened (no channel is dead here)
    assert small.get_layer("head").get_weights()[0].shape == (4 + features, 3)
    new = {type(layer).__name__ for layer in small.layers} - {
        type(layer).__name__ for layer in model.layers
    }
    assert new == {"Concatenate"}
    assert len(small.layers) == len(model.layers) + 1
    conv = 3 * 3 * 3 * 8 + 8
    assert small.count_params() == conv + 4 * (features + 1) + (4 + features) * 3 + 3


def test_a_rank_smaller_than_the_consumer_stays_a_low_rank_pair():
    # Two neurons fold into a 3-wide head: a rank-2 pair is smaller than the
    # full block of 128 features x 3.
    model = flatten_head(always_on=2)
    small, report = f.compress_exact(
        model, images(64), atol=1e-5, layer_threshold="optimal"
    )
    row = report.set_index("site").loc["hidden"]
    assert row.folded and row.shortcut_form == "low-rank (r=2)"
    assert small.get_layer("head").get_weights()[0].shape == (14 + 2, 3)


def digits_cnn():
    """Issue 23's model: Conv16-Conv32-MaxPool-Conv64-Flatten-Dense128-
    Dense10 (843,914 parameters), one epoch on scikit-learn's digits
    upscaled to 28x28; returns it and 512 calibration images."""
    from sklearn import datasets

    keras.utils.set_random_seed(0)
    x, y = datasets.load_digits(return_X_y=True)
    x = np.repeat(np.repeat(x.reshape(-1, 8, 8, 1) / 16.0, 4, 1), 4, 2)[:, 2:30, 2:30]
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(16, 3, activation="relu"),
            L.Conv2D(32, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(64, 3, activation="relu"),
            L.Flatten(),
            L.Dense(128, activation="relu", name="hidden"),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x.astype("float32"), y, epochs=1, batch_size=32, verbose=0)
    return model, x[:512].astype("float32")


@pytest.mark.slow
def test_the_classifier_head_of_a_small_cnn_folds_below_the_dead_unit_floor():
    """Issue 23: the layer budget refused every fold of the Dense(128)
    reading Flatten, leaving ~60 % of the parameters at any threshold;
    under `objective="params"` a fold is never refused for its layers."""
    model, x = digits_cnn()
    total = model.count_params()
    assert total == 843_914

    exact, report = f.compress_exact(model, x, atol=1e-5)  # 1.0, "optimal"
    f.assert_close(exact(x, training=False), model(x, training=False), atol=1e-5)
    lossy, lossy_report = linprune.apply(model, x, threshold=0.3, verbose=0)

    row = lossy_report.set_index("layer").loc["hidden"]
    assert row.folded and row.linear > 0
    assert lossy.count_params() < 0.5 * total < exact.count_params()
    assert not any("adds layers" in str(r) for r in lossy_report.reason)
