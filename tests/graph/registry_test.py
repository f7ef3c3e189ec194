"""The layer registry and the facts its kinds declare."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.graph import registry
from tests.factories import ROOT

L = keras.layers


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
