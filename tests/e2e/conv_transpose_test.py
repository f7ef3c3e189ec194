"""Conv1D/2D/3DTranspose, the layer kind added through the registry only.

A transposed conv produces sites like any conv (its output channels are the
neurons; a shortcut is a transposed conv of the same geometry) and consumes
them (dead input channels are removed; being spatial, it takes no linear
folds). Outputs are compared with the original's through `predict()` and
eagerly.
"""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f

L = keras.layers


def pin_producer(model, name="p", levels=(-50.0, 0.0, 3.0, 50.0), seed=1):
    """Small kernel, biases from `levels`: off (-50), mixed (0), linear or
    on (3, 50)."""
    layer = model.get_layer(name)
    k, b = layer.get_weights()
    b = np.random.default_rng(seed).choice(levels, b.shape)
    layer.set_weights([k * 0.05, b.astype("float32")])
    return model


def two_layer(producer, consumer, shape, pool):
    keras.utils.set_random_seed(0)
    x = keras.Input(shape)
    h = consumer(L.ReLU(name="r0")(producer(x)))
    y = L.Dense(2, name="out")(pool()(h))
    return pin_producer(keras.Model(x, y))


def check_exact(model, x, **kwargs):
    small, report = f.compress_exact(model, x, **kwargs)
    f.assert_close(small(x, training=False), model(x, training=False))
    return small, report.set_index("site").loc["r0"]


IMAGES = np.random.default_rng(0).normal(size=(32, 6, 6, 3)).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3, strides=2, padding="same"),
        dict(kernel_size=3, strides=2, padding="valid", output_padding=1),
        dict(kernel_size=2, strides=1, padding="valid", dilation_rate=2),
    ],
)
def test_transposed_producer_folds_into_a_pointwise_consumer(kwargs):
    model = two_layer(
        L.Conv2DTranspose(8, name="p", **kwargs),
        L.Conv2D(5, 1, name="c"),
        (6, 6, 3),
        L.GlobalAveragePooling2D,
    )
    small, row = check_exact(model, IMAGES)
    assert row.folded and row.linear > 0 and row.dead > 0
    assert 0 < row.units_after < 8
    producer = small.get_layer("p")
    assert isinstance(producer, L.Conv2DTranspose)
    assert producer.filters == row.units_after
    (shortcut,) = [
        layer for layer in small.layers if layer.name.startswith("c_shortcut")
    ]
    assert isinstance(shortcut, L.Conv2DTranspose)
    assert shortcut.strides == producer.strides
    assert shortcut.output_padding == producer.output_padding


def test_transposed_consumer_drops_dead_channels_only():
    model = two_layer(
        L.Conv2D(8, 3, padding="same", name="p"),
        L.Conv2DTranspose(5, 3, strides=2, name="c"),
        (6, 6, 3),
        L.GlobalAveragePooling2D,
    )
    small, row = check_exact(model, IMAGES)
    assert not row.folded and row.dead > 0 and row.constant == 0
    assert "3x3 kernel with strides (2, 2)" in row.reason
    consumer = small.get_layer("c")
    assert consumer.kernel.shape[-1] == row.units_after  # (h, w, out, in)


def test_saturated_channels_are_kept_before_a_transposed_consumer():
    """A constant non-zero input channel does not give a constant output
    through a strided transposed conv: it must stay."""
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 3))
    h = L.ReLU(max_value=6.0, name="r0")(L.Conv2D(8, 1, name="p")(x))
    h = L.Conv2DTranspose(4, 3, strides=2, name="c")(h)
    model = keras.Model(x, L.Flatten()(h))
    model = pin_producer(model, levels=(50.0,))  # every channel saturated
    small, row = check_exact(model, IMAGES)
    assert row.constant == 0 and row.units_after == 8


def test_transposed_consumer_with_a_unit_kernel_takes_linear_folds():
    model = two_layer(
        L.Conv2D(8, 3, padding="same", name="p"),
        L.Conv2DTranspose(5, 1, name="c"),
        (6, 6, 3),
        L.GlobalAveragePooling2D,
    )
    small, row = check_exact(model, IMAGES)
    assert row.folded and row.linear > 0


@pytest.mark.parametrize("rank", [1, 3])
def test_1d_and_3d_transposes_fold_exactly(rank):
    conv_t = {1: L.Conv1DTranspose, 3: L.Conv3DTranspose}[rank]
    conv = {1: L.Conv1D, 3: L.Conv3D}[rank]
    pool = {1: L.GlobalAveragePooling1D, 3: L.GlobalAveragePooling3D}[rank]
    shape = (5,) * rank + (2,)
    model = two_layer(
        conv_t(6, 2, strides=2, name="p"), conv(4, 1, name="c"), shape, pool
    )
    x = np.random.default_rng(2).normal(size=(16, *shape)).astype("float32")
    small, row = check_exact(model, x)
    assert row.folded and row.linear > 0


def test_low_rank_shortcut_of_a_transposed_producer():
    """A wide consumer makes the shortcut cheaper as a transposed conv down
    to r channels followed by a pointwise conv up."""
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 16))
    h = L.ReLU(name="r0")(
        L.Conv2DTranspose(12, 3, strides=2, padding="same", name="p")(x)
    )
    y = L.GlobalAveragePooling2D()(L.Conv2D(32, 1, name="c")(h))
    model = pin_producer(keras.Model(x, y), levels=(-50.0, 0.0, 3.0))
    data = np.random.default_rng(3).normal(size=(16, 6, 6, 16)).astype("float32")
    small, row = check_exact(model, data)
    assert row.shortcut_form.startswith("low-rank")
    down = [layer for layer in small.layers if layer.name.endswith("_down")]
    assert down and isinstance(down[0], L.Conv2DTranspose)


def test_compressed_model_with_transposes_saves_and_reloads(tmp_path):
    model = two_layer(
        L.Conv2DTranspose(8, 3, strides=2, padding="same", name="p"),
        L.Conv2D(5, 1, name="c"),
        (6, 6, 3),
        L.GlobalAveragePooling2D,
    )
    small, _ = linprune.apply(model, IMAGES, verbose=0)
    path = tmp_path / "small.keras"
    small.save(path)
    again = keras.saving.load_model(path)
    f.assert_close(again.predict(IMAGES, verbose=0), model.predict(IMAGES, verbose=0))


def test_certified_bounds_hold_through_a_transposed_conv():
    from keras_linprune.analysis import analyse
    from keras_linprune.measurement import certify

    model = two_layer(
        L.Conv2DTranspose(8, 3, strides=2, padding="same", name="p"),
        L.Conv2D(5, 1, name="c"),
        (6, 6, 3),
        L.GlobalAveragePooling2D,
    )
    fn = analyse(model).fn
    bounds, _ = certify.propagate(fn, certify.input_box(-1.0, 1.0, fn))
    x = np.random.default_rng(4).uniform(-1, 1, (64, 6, 6, 3)).astype("float32")
    layer = fn.get_layer("p")
    low, high = bounds[id(layer.output)]
    y = keras.Model(fn.inputs, layer.output).predict(x, verbose=0)
    assert np.all(y >= low - 1e-4) and np.all(y <= high + 1e-4)
    assert np.all(np.isfinite(low))


def unet(skip_pool=False):
    """Issue 20's U-Net: Conv2DTranspose(relu) outputs concatenated with the
    encoder's skip (read directly, and through MaxPooling by the encoder's
    next conv)."""
    keras.utils.set_random_seed(0)
    x = keras.Input((16, 16, 3))
    c1 = L.Conv2D(8, 3, padding="same", activation="relu", name="c1")(x)
    c2 = L.Conv2D(16, 3, padding="same", activation="relu", name="c2")(
        L.MaxPooling2D()(c1)
    )
    u1 = L.Conv2DTranspose(27, 2, strides=2, activation="relu", name="p")(c2)
    c3 = L.Conv2D(8, 3, padding="same", activation="relu", name="c3")(
        L.Concatenate()([u1, c1])
    )
    model = keras.Model(x, L.Conv2D(1, 1, name="head")(c3))
    return pin_producer(model)


def test_a_unet_with_transposed_convs_into_skip_concatenates_compresses():
    """It crashed with "Inputs have incompatible shapes (16, 16, 27) and
    (8, 8, 27)": the skip's key named the pooled tensor for every reader."""
    model, x = unet(), f.images(32, (16, 16, 3))
    small, report = f.compress_exact(model, x)
    f.assert_close(small(x, training=False), model(x, training=False))
    assert report.set_index("site").loc["p"].dead > 0
    lossy, _ = linprune.apply(model, x, threshold=0.5, verbose=0)
    f.assert_close(lossy.predict(x, verbose=0), lossy(x, training=False), atol=1e-5)
    assert lossy.count_params() <= small.count_params() < model.count_params()


def test_a_source_read_directly_and_through_pooling_blocks_the_fold():
    """c1 reaches `head`'s Concatenate directly and `p` through a stride-1
    MaxPooling; folding `p` into `head` would bring a term keyed `c1` for the
    pooled tensor beside `head`'s own `c1` part (same shape: it would be
    summed silently into the wrong kernel). The fold is refused instead."""
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3))
    c1 = L.Conv2D(6, 1, activation="relu", name="c1")(x)
    pooled = L.MaxPooling2D(3, strides=1, padding="same")(c1)
    p = L.Conv2D(5, 1, activation="relu", name="p")(pooled)
    model = keras.Model(x, L.Conv2D(2, 1, name="head")(L.Concatenate()([p, c1])))
    layer = model.get_layer("p")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel * 0.01, np.full_like(bias, 5.0)])  # always linear
    images = f.images(32, (8, 8, 3))
    small, report = f.compress_exact(model, images, layer_threshold=0)
    f.assert_close(small(images, training=False), model(images, training=False))
    row = report.set_index("site").loc["p"]
    assert not row.folded
    assert "'c1' reaches a consumer both directly and through pooling" in row.reason
