import keras
import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f


def check(model, x, **kwargs):
    return f.compress_exact(model, x, **kwargs)


@pytest.mark.parametrize(
    "padding,strides", [("same", 1), ("valid", 1), ("same", 2), ("valid", 2)]
)
def test_conv3x3_relu_conv1x1_folds_exactly(padding, strides):
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv2D(16, 3, strides=strides, padding=padding, name="c0"),
            keras.layers.Conv2D(8, 1, name="c1", activation="relu"),
        )
    )
    small, report = check(model, f.images())
    row = report.set_index("site").loc["r0"]
    assert row.folded and row.linear > 0 and row.dead > 0
    (shortcut,) = [
        layer
        for layer in small.layers
        if layer.name.startswith("c1_shortcut_input_layer")
    ]
    assert isinstance(shortcut, keras.layers.Conv2D)
    assert shortcut.kernel_size == (3, 3) and shortcut.strides == (strides,) * 2


def test_dilated_conv_producer():
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv2D(12, 3, dilation_rate=2, padding="same", name="c0"),
            keras.layers.Conv2D(4, 1, name="c1"),
        )
    )
    _, report = check(model, f.images())
    assert report.folded.iloc[0]


def test_conv1d_producer_with_dense_consumer():
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv1D(12, 3, padding="causal", name="c0"),
            keras.layers.Dense(5, name="d1"),
            head=keras.layers.GlobalAveragePooling1D,
            shape=(10, 4),
        )
    )
    _, report = check(model, f.images(shape=(10, 4)))
    assert report.folded.iloc[0] and report.linear.iloc[0] > 0


def test_conv3d_producer():
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv3D(6, 2, name="c0"),
            keras.layers.Conv3D(3, 1, name="c1"),
            head=keras.layers.GlobalAveragePooling3D,
            shape=(4, 4, 4, 2),
        )
    )
    _, report = check(model, f.images(32, (4, 4, 4, 2)))
    assert report.folded.iloc[0]


def test_channels_first():
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv2D(
                10, 3, padding="same", name="c0", data_format="channels_first"
            ),
            keras.layers.Conv2D(4, 1, name="c1", data_format="channels_first"),
            head=lambda: keras.layers.GlobalAveragePooling2D(
                data_format="channels_first"
            ),
            shape=(3, 8, 8),
        )
    )
    x = f.images(shape=(3, 8, 8))
    stats = linprune.measure(model, x, verbose=0)
    assert stats.piece_counts["r0"].shape == (2, 10)
    assert stats.observations["r0"] == 64 * 8 * 8
    _, report = check(model, x)
    assert report.folded.iloc[0] and report.linear.iloc[0] > 0


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_spatial_consumer_only_loses_constant_channels(padding):
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv2D(12, 3, padding="same", name="c0"),
            keras.layers.Conv2D(4, 3, padding=padding, name="c1"),
        )
    )
    _, report = check(model, f.images())
    row = report.iloc[0]
    assert not row.folded and row.linear == 0 and row.dead > 0
    assert "3x3 kernel" in row.reason


def test_saturated_relu6_channels_need_valid_padding():
    def run(padding):
        keras.utils.set_random_seed(0)
        x = keras.Input((8, 8, 3))
        h = keras.layers.Conv2D(12, 3, name="c0", activation="relu6")(x)
        h = keras.layers.Conv2D(4, 3, padding=padding, name="c1")(h)
        y = keras.layers.Dense(2)(keras.layers.Flatten()(h))
        model = f.pin_channels(keras.Model(x, y), levels=(50.0,))
        return check(model, f.images())[1].iloc[0]

    assert run("valid").constant > 0
    assert run("same").constant == 0


def test_conv_norm_relu_and_chain_of_pointwise_convs():
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="c0")(x)
    h = keras.layers.BatchNormalization(name="bn0")(h)
    h = keras.layers.ReLU(name="r0")(h)
    h = keras.layers.Conv2D(12, 1, activation="relu", name="c1")(h)
    h = keras.layers.Conv2D(8, 1, activation="relu", name="c2")(h)
    y = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(x, y)
    rng = np.random.default_rng(0)
    bn = model.get_layer("bn0")
    bn.set_weights(
        [
            rng.uniform(0.5, 1.5, 16).astype("float32"),
            rng.choice([-50.0, 50.0, 0.0], 16).astype("float32"),
            rng.normal(size=16).astype("float32") * 0.1,
            rng.uniform(0.5, 2, 16).astype("float32"),
        ]
    )
    for name in ("c1", "c2"):
        layer = model.get_layer(name)
        k, b = layer.get_weights()
        layer.set_weights(
            [k * 0.05, rng.choice([-50.0, 50.0, 0.0], b.shape).astype("float32")]
        )
    model.get_layer("c0").set_weights([model.get_layer("c0").get_weights()[0] * 0.05])
    small, report = check(model, f.images())
    assert report.folded.tolist() == [True, True, False]  # c2 feeds pooling
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in small.layers
    )


def test_low_rank_conv_shortcut():
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv2D(48, 3, padding="same", name="c0"),
            keras.layers.Conv2D(32, 1, name="c1"),
        ),
        levels=(-50.0,) * 10 + (50.0,),
    )
    small, report = check(model, f.images())
    assert report.shortcut_form.iloc[0].startswith("low-rank")
    down = [layer for layer in small.layers if layer.name.endswith("_down")]
    assert down and down[0].kernel_size == (3, 3)


def test_conv_fold_count_is_closed_form():
    # docs/method.md, 5: saving = |J| (taps*in_P + out_C + 1) - taps*in_P*out_C.
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv2D(16, 3, padding="same", name="c0"),
            keras.layers.Conv2D(8, 1, name="c1"),
        ),
        levels=(50.0,),
    )
    x = f.images()
    stats = linprune.measure(model, x, verbose=0)
    small, report = linprune.apply(
        model, stats, layer_threshold=0, remove_dead=False, shortcut="dense"
    )
    j = int(report.linear.iloc[0])
    assert j == int(np.count_nonzero(stats.rates["r0"] >= 1.0)) > 0
    saving = j * (9 * 3 + 8 + 1) - 9 * 3 * 8
    assert small.count_params() == model.count_params() - saving


def pooled_cnn(pass_through, consumer, activation="relu", levels=(-50.0, 50.0)):
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(12, 3, padding="same", activation=activation, name="c0")(x)
    h = pass_through(h)
    h = consumer(h)
    h = keras.layers.Conv2D(6, 1, activation="relu", name="c2")(h)
    y = keras.layers.Dense(2, name="out")(keras.layers.Flatten()(h))
    return f.pin_channels(keras.Model(x, y), levels=levels)


@pytest.mark.parametrize(
    "pass_through",
    [
        lambda h: keras.layers.MaxPooling2D(name="pool")(h),
        lambda h: keras.layers.AveragePooling2D(2, padding="same", name="pool")(h),
        lambda h: keras.layers.ZeroPadding2D(name="pool")(h),
    ],
)
def test_dead_channels_removed_through_pooling_and_padding(pass_through):
    model = pooled_cnn(pass_through, keras.layers.Conv2D(8, 3, name="c1"))
    small, report = check(model, f.images())
    row = report.set_index("site").loc["c0"]
    assert row.dead > 0 and row.linear == 0 and not row.folded
    assert "'pool'" in row.reason or "kernel" in row.reason


def test_chain_through_pooling_keeps_the_pooled_source():
    # c1 reads pool(c0); when c1's own linear neurons fold into c2, c2's
    # shortcut must read the pooled tensor, not c0's activation.
    model = pooled_cnn(
        lambda h: keras.layers.MaxPooling2D(name="pool")(h),
        keras.layers.Conv2D(8, 1, activation="relu", name="c1"),
    )
    small, report = check(model, f.images())
    rows = report.set_index("site")
    assert rows.loc["c1"].folded and rows.loc["c1"].linear > 0
    assert "'pool' (MaxPooling2D)" in rows.loc["c0"].reason


def test_constant_channels_through_padding_are_kept():
    def run(pass_through):
        model = pooled_cnn(
            pass_through,
            keras.layers.Conv2D(8, 1, name="c1"),
            activation="relu6",
            levels=(50.0,),
        )
        return check(model, f.images())[1].set_index("site").loc["c0"]

    assert run(lambda h: keras.layers.MaxPooling2D(name="pool")(h)).constant > 0
    assert run(lambda h: keras.layers.ZeroPadding2D(name="pool")(h)).constant == 0


@pytest.mark.parametrize(
    "between",
    [
        keras.layers.GlobalAveragePooling2D,
        keras.layers.GlobalMaxPooling2D,
        lambda: keras.layers.UpSampling2D(2),
    ],
    ids=["gap", "gmp", "upsampling"],
)
def test_dead_channels_are_removed_through_global_pooling_and_upsampling(between):
    """The usual CNN head (conv -> ReLU -> global pooling -> Dense) and
    decoder upsampling: dead channels go, nothing folds through them."""
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3))
    h = keras.layers.ReLU(name="r0")(keras.layers.Conv2D(12, 3, name="c0")(x))
    h = between()(h)
    if len(h.shape) == 4:
        h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 1)(h))
    model = f.pin_channels(keras.Model(x, keras.layers.Dense(2, name="out")(h)))
    small, report = check(model, f.images())
    row = report.set_index("site").loc["r0"]
    assert row.dead > 0 and row.linear == 0
    assert row.units_after == 12 - row.dead - row.constant
    assert "sits before the consumers" in row.reason


@pytest.mark.parametrize(
    "activation",
    [
        lambda: keras.layers.LeakyReLU(0.1, name="act"),
        lambda: keras.layers.Activation("elu", name="act"),
        lambda: keras.layers.ReLU(name="act"),
    ],
)
def test_spatial_fold_into_a_pointwise_consumer_is_exact_under_predict(activation):
    """TensorFlow's CPU graph fusion of `Conv + bias -> Add -> LeakyReLU`
    applies slope 0.2 whatever the layer says (the compiled model, not the
    eager one, was off by 3.2 here): the shortcut joins the consumer's
    kernel through its low-rank first half, so no `Add` is emitted."""
    model = f.pin_channels(
        f.cnn(
            keras.layers.Conv2D(6, 3, padding="same", name="c0"),
            keras.layers.Conv2D(5, 1, name="c1"),
            head=keras.layers.Flatten,
            extra=(),
        )
    )
    x_in = model.input
    h = model.get_layer("c1").output
    y = keras.layers.Dense(2, name="head")(keras.layers.Flatten()(activation()(h)))
    model = keras.Model(x_in, y)
    x = f.images()
    small, report = linprune.apply(model, x, layer_threshold=0.0, verbose=0)
    assert report.set_index("site").loc["r0", "linear"] > 0
    assert not any(isinstance(layer, keras.layers.Add) for layer in small.layers)
    expected = model.predict(x, verbose=0)
    f.assert_close(small.predict(x, verbose=0), expected, atol=1e-4)
    f.assert_close(small(x), expected, atol=1e-4)
