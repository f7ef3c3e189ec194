"""What site matching finds and rejects, as the Keras-free spec (small
hand-written graphs, no measurement, no rebuild)."""

import keras
import pytest

from tests.graph.sites.common import only_rejection, sites_of

L = keras.layers


def test_dense_relu_dense():
    found = sites_of(
        lambda x: L.Dense(2, name="c")(L.Dense(8, activation="relu", name="p")(x))
    )
    (site,) = found.spec.sites
    assert (site.name, site.producer, site.consumers, site.width) == (
        "p",
        "p",
        ("c",),
        8,
    )
    p, c = found.spec.linears["p"], found.spec.linears["c"]
    assert (p.source, p.in_width, p.units) == ("x", 4, 8)
    assert (c.source, c.in_width, c.units) == ("p", 8, 2)
    assert found.bindings["p"].on_output


@pytest.mark.parametrize(
    "net,reason",
    [
        (
            lambda x: L.Dense(8, activation="relu", name="p")(x),
            "its activation is a model output",
        ),
        (
            lambda x: L.Dense(2)(L.Dense(8, activation="gelu", name="p")(x)),
            "not piecewise linear",
        ),
        (
            lambda x: L.Dense(2)(
                L.LayerNormalization(name="ln")(
                    L.Dense(8, activation="relu", name="p")(x)
                )
            ),
            "consumer 'ln' (LayerNormalization) is not a Dense or Conv layer",
        ),
        (
            lambda x: L.Activation("relu")(L.Dense(8, name="p")(x)),
            "its activation is a model output",
        ),
    ],
)
def test_rejections_say_why(net, reason):
    assert reason in only_rejection(sites_of(net))


def test_unknown_layers_are_listed_as_unchanged():
    found = sites_of(lambda x: L.LayerNormalization(name="ln")(L.Dense(3, name="d")(x)))
    assert found.unchanged == (("ln", "LayerNormalization"),)
