"""The layer registry and the facts its kinds declare."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.graph import registry
from tests.factories import ROOT

L = keras.layers


def built(layer, shape):
    layer.build(shape)
    rng = np.random.default_rng(0)
    layer.set_weights(
        [rng.normal(size=w.shape).astype("float32") for w in layer.weights]
    )
    return layer


@pytest.mark.parametrize(
    "layer,role",
    [
        (L.Dense(2), "linear"),
        (L.Conv2D(2, 3), "linear"),
        (L.Conv2DTranspose(2, 3), "linear"),
        (L.BatchNormalization(), "norm"),
        (L.ReLU(), "activation"),
        (L.Dropout(0.5), "identity"),
        (L.MaxPooling2D(), "channel_pass"),
        (L.Concatenate(), "concatenate"),
        (L.Add(), "add"),
        (L.Flatten(), "channel_pass"),
        (L.Permute((2, 1)), "structural"),
        (L.LayerNormalization(), "opaque"),
        (L.LSTM(2), "opaque"),
    ],
)
def test_roles(layer, role):
    assert registry.kind_of(layer).role == role


def test_subclasses_are_opaque():
    class MyDense(L.Dense):
        pass

    assert registry.kind_of(MyDense(2)) is registry.OPAQUE
    assert registry.linear_kind(MyDense(2)) is None


def test_grouped_convs_are_not_rewritten():
    assert registry.linear_kind(L.Conv2D(4, 3, groups=2)) is None
    assert registry.linear_kind(L.Conv2D(4, 3)) is not None


@pytest.mark.parametrize(
    "layer,shape",
    [
        (L.Dense(3), (None, 4)),
        (L.Conv1D(3, 2), (None, 5, 4)),
        (L.Conv2D(3, 1), (None, 5, 5, 4)),
        (L.Conv2DTranspose(3, 2, strides=2), (None, 5, 5, 4)),
        (L.Conv3DTranspose(3, 1), (None, 3, 3, 3, 4)),
    ],
)
def test_kernel_layout_round_trip(layer, shape):
    layer = built(layer, shape)
    kind = registry.linear_kind(layer)
    before = [w.copy() for w in layer.get_weights()]
    kernel = kind.kernel(layer)
    assert kernel.shape[-2:] == (4, 3)  # (in, out) in the algebra
    kind.set_weights(layer, kernel, before[1])
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_transposed_kernel_swaps_in_and_out():
    layer = built(L.Conv2DTranspose(3, 2), (None, 5, 5, 4))
    stored = keras.ops.convert_to_numpy(layer.kernel)  # (2, 2, out, in)
    kernel = registry.linear_kind(layer).kernel(layer)  # (2, 2, in, out)
    np.testing.assert_array_equal(kernel[1, 0, 3, 2], stored[1, 0, 2, 3])


@pytest.mark.parametrize(
    "layer,exact",
    [
        (L.Dense(2), True),
        (L.Conv2D(2, 1), True),
        (L.Conv2D(2, 3, padding="valid"), True),
        (L.Conv2D(2, 3, padding="same"), False),
        (L.Conv2DTranspose(2, 1), True),
        (L.Conv2DTranspose(2, 3, padding="valid"), False),
        (L.Conv2DTranspose(2, 2, strides=2), False),
    ],
)
def test_exact_on_constants(layer, exact):
    assert registry.linear_kind(layer).exact_on_constants(layer) is exact


def test_shortcut_keeps_the_geometry_and_drops_regularizers():
    layer = L.Conv2DTranspose(
        8,
        3,
        strides=2,
        padding="same",
        output_padding=1,
        kernel_regularizer="l2",
        name="p",
    )
    kind = registry.linear_kind(layer)
    shortcut = kind.make_like(layer, 5, use_bias=False, name="s")
    assert isinstance(shortcut, L.Conv2DTranspose)
    assert (shortcut.filters, shortcut.strides, shortcut.output_padding) == (
        5,
        (2, 2),
        (1, 1),
    )
    assert shortcut.kernel_regularizer is None and not shortcut.use_bias
    up = kind.make_pointwise(layer, 7, use_bias=True, name="u")
    assert isinstance(up, L.Conv2D) and up.kernel_size == (1, 1)


def test_prelu_narrows_its_slopes_per_channel():
    prelu = L.PReLU()
    prelu.build((None, 4, 3))
    alpha = np.arange(12, dtype="float32").reshape(4, 3)
    prelu.set_weights([alpha])
    (narrowed,) = registry.kind_of(prelu).narrow_weights(prelu, [0, 2], -1)
    np.testing.assert_array_equal(narrowed, alpha[:, [0, 2]])


def _design_doc_toy_kind():
    """The code block of docs/design.md's walk-through "Adding a layer
    type", run as a module namespace."""
    text = (ROOT / "docs" / "design.md").read_text()
    start = text.index("<!-- toy-kind")
    block = text[text.index("```python\n", start) + 10 :]
    namespace = {}
    exec(compile(block[: block.index("```")], "design.md", "exec"), namespace)
    return namespace


def test_adding_a_layer_type_as_the_design_doc_says(monkeypatch):
    """The walk-through's kind and one registry row make a custom
    per-channel affine layer fold exactly, absorbed into its producer."""
    toy = _design_doc_toy_kind()
    layer_class, kind = toy["ChannelScale"], toy["CHANNEL_SCALE"]
    keras.utils.set_random_seed(0)
    x = keras.Input((6,))
    h = keras.layers.Dense(16, name="producer")(x)
    h = layer_class(name="scale")(h)
    h = keras.layers.ReLU()(h)
    model = keras.Model(x, keras.layers.Dense(3, name="consumer")(h))
    scale = model.get_layer("scale")
    scale.set_weights([np.linspace(0.5, 2.0, 16), np.linspace(-1.0, 1.0, 16)])
    data = np.random.default_rng(0).normal(size=(256, 6)).astype("float32")

    unregistered, _ = linprune.apply(model, data)
    assert "scale" in [layer.name for layer in unregistered.layers]

    monkeypatch.setitem(registry.KINDS, layer_class, kind)
    small, report = linprune.apply(model, data)
    assert [type(layer) for layer in small.layers if layer.name == "scale"] == []
    assert all(type(layer).__module__.startswith("keras") for layer in small.layers)
    np.testing.assert_allclose(
        small.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-5
    )
    assert report.attrs["params_after"] < report.attrs["params_before"]
