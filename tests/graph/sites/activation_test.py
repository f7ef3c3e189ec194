"""From a producer to its activation: affine layers on the way, shared producers."""

import keras

from tests.graph.sites.common import sites_of

L = keras.layers


def test_activation_layer_norm_and_dropout_on_the_way():
    def net(x):
        h = L.BatchNormalization(name="bn")(L.Dense(8, name="p")(x))
        h = L.Dropout(0.5, name="drop")(L.ReLU(name="act")(h))
        return L.Dense(2, name="c")(h)

    found = sites_of(net)
    (site,) = found.spec.sites
    assert site.name == "act" and site.consumers == ("c",)
    assert found.spec.linears["p"].post_norms == ("bn",)
    assert found.spec.absorbed == ("bn",)
    assert found.spec.linears["c"].source == "act"  # through the dropout
    assert not found.bindings["act"].on_output


def test_shared_producer_is_one_site_over_its_calls():
    def net(x):
        p = L.Dense(8, activation="relu", name="p")
        c = L.Dense(2, name="c")
        return L.Add()([c(p(x)), c(p(L.Dense(4, name="pre")(x)))])

    found = sites_of(net)
    (site,) = found.spec.sites
    assert site.name == "p" and len(found.bindings["p"].tensor) == 2
    assert found.spec.linears["p"].source == "p_input"


def test_affine_layers_between_producer_and_activation_all_fold_into_it():
    def net(x):
        h = L.BatchNormalization(name="bn")(L.Dense(8, name="p")(x))
        h = L.ReLU(name="act")((h - 1.0) * 3.0)
        return L.Dense(2, name="c")(h / 2.0)

    found = sites_of(net)
    (site,) = found.spec.sites
    p, c = found.spec.linears["p"], found.spec.linears["c"]
    assert site.name == "act" and site.consumers == ("c",)
    assert len(p.post_norms) == 3 and p.post_norms[0] == "bn"
    assert len(c.pre_norms) == 1 and c.use_bias
