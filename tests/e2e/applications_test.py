"""Every keras.applications family that builds offline (random weights, small
inputs: nothing is downloaded) runs through `apply` at threshold 1.0 and
reproduces the original's outputs through `predict()` and eagerly."""

import keras
import numpy as np
import pytest

from tests import factories as f

A = keras.applications

#: One member per family, with the smallest input size it accepts.
FAMILIES = {
    "ConvNeXtTiny": (A.ConvNeXtTiny, 32, {}),
    "DenseNet121": (A.DenseNet121, 32, {}),
    "EfficientNetB0": (A.EfficientNetB0, 32, {}),
    "EfficientNetV2B0": (A.EfficientNetV2B0, 32, {}),
    "InceptionResNetV2": (A.InceptionResNetV2, 75, {}),
    "InceptionV3": (A.InceptionV3, 75, {}),
    "MobileNet": (A.MobileNet, 32, dict(alpha=0.25)),
    "MobileNetV2": (A.MobileNetV2, 32, dict(alpha=0.35)),
    "MobileNetV3Small": (A.MobileNetV3Small, 32, dict(include_preprocessing=False)),
    "MobileNetV3Large": (
        A.MobileNetV3Large,
        32,
        dict(include_preprocessing=False, minimalistic=True),
    ),
    "NASNetMobile": (A.NASNetMobile, 32, {}),
    "ResNet50": (A.ResNet50, 32, {}),
    "ResNet50V2": (A.ResNet50V2, 32, {}),
    "VGG16": (A.VGG16, 32, {}),
    "Xception": (A.Xception, 71, {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_application_compresses_exactly(name):
    build, size, kwargs = FAMILIES[name]
    model = build(weights=None, input_shape=(size, size, 3), classes=10, **kwargs)
    x = np.random.default_rng(0).uniform(0, 255, (8, size, size, 3)).astype("float32")
    weights = [w.copy() for w in model.get_weights()]
    small, report = f.compress_exact(model, x, atol=1e-4, layer_threshold="optimal")
    f.assert_close(small(x, training=False), model(x, training=False), atol=1e-4)
    assert report.reason[~report.folded].str.len().gt(0).all()  # never silent
    assert small.count_params() <= model.count_params()
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["MobileNet", "MobileNetV2"])
def test_dead_channels_leave_mobilenet_depthwise_blocks(name):
    """One BatchNormalization channel in five pinned dead: the dead channels
    of each expansion also leave the depthwise layer after it."""
    build, size, kwargs = FAMILIES[name]
    model = build(weights=None, input_shape=(size, size, 3), classes=10, **kwargs)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            beta[rng.uniform(size=beta.size) < 0.2] = -50.0
            layer.set_weights([gamma, beta, mean, var])
    x = rng.uniform(0, 255, (16, size, size, 3)).astype("float32")
    small, report = f.compress_exact(model, x, atol=1e-4, layer_threshold="optimal")
    depthwise = [
        layer.name
        for layer in model.layers
        if isinstance(layer, keras.layers.DepthwiseConv2D)
    ]
    narrowed = [
        n
        for n in depthwise
        if small.get_layer(n).count_params() < model.get_layer(n).count_params()
    ]
    assert len(narrowed) >= len(depthwise) // 2, (narrowed, depthwise)
    assert small.count_params() < 0.6 * model.count_params()


def _pin_dead_bn_channels(model, rng, share=0.2):
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            beta[rng.uniform(size=beta.size) < share] = -50.0
            layer.set_weights([gamma, beta, mean, var])


@pytest.mark.slow
def test_transfer_learning_base_stays_nested_and_frozen(tmp_path):
    """The usual transfer-learning model (a frozen keras.applications base,
    pooling and a new head): the compressed model has the same 5 top-level
    layers, the base is still a frozen submodel with the original's layer
    names, and it saves and reloads."""
    rng = np.random.default_rng(1)
    base = A.MobileNetV2(
        weights=None, include_top=False, input_shape=(32, 32, 3), alpha=0.35
    )
    base.trainable = False
    _pin_dead_bn_channels(base, rng)
    x_in = keras.Input((32, 32, 3), name="image")
    h = keras.layers.GlobalAveragePooling2D(name="pool")(base(x_in, training=False))
    h = keras.layers.Dropout(0.2, name="drop")(h)
    model = keras.Model(x_in, keras.layers.Dense(5, name="head")(h), name="clf")
    x = rng.uniform(0, 255, (16, 32, 32, 3)).astype("float32")

    small, _ = f.compress_exact(model, x, atol=1e-4, layer_threshold="optimal")

    f.assert_close(small(x, training=False), model(x, training=False), atol=1e-4)
    assert [layer.name for layer in small.layers] == [x.name for x in model.layers]
    small_base = small.get_layer(base.name)
    assert isinstance(small_base, keras.Model) and small_base is not base
    assert not small_base.trainable and small_base.trainable_weights == []
    names = {layer.name for layer in small_base.layers}
    assert {"Conv1", "out_relu", "block_16_project"} <= names
    assert small_base.count_params() < 0.6 * base.count_params()
    small_base.trainable = True  # "unfreeze the base" reaches its layers
    assert small_base.get_layer("Conv1").trainable
    assert not base.get_layer("Conv1").trainable
    path = tmp_path / "small.keras"
    small.save(path)
    loaded = keras.saving.load_model(path)
    f.assert_close(loaded.predict(x, verbose=0), small.predict(x, verbose=0), atol=0)


@pytest.mark.slow
def test_statistics_fit_the_model_they_were_measured_on():
    """Issue 20: ConvNeXt's LayerScale weights are created without a name;
    the analysis' copies numbered them anew (`variable_18`, `variable_36`),
    so `apply(model, measure(model, x))` said the stats were measured on
    another model."""
    import keras_linprune as linprune

    model = A.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3), include_top=False)
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    stats = linprune.measure(model, x, verbose=0)
    small, report = linprune.apply(model, stats, verbose=0)
    assert report.attrs["params_after"] == small.count_params()
    f.assert_close(small(x, training=False), model(x, training=False), atol=1e-4)
