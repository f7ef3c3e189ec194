"""Site matching on small hand-written graphs (no measurement, no rebuild)."""

import keras
import pytest

from keras_linprune.graph.sites import find_sites

L = keras.layers


def sites_of(outputs_fn, shape=(4,)):
    keras.utils.set_random_seed(0)
    x = keras.Input(shape, name="x")
    return find_sites(keras.Model(x, outputs_fn(x)))


def only_rejection(found):
    assert not found.spec.sites
    (rejection,) = found.spec.rejected
    return rejection.reason


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


def test_spatial_consumer_blocks_linear_folds():
    def net(x):
        h = L.ReLU(name="r")(L.Conv2D(8, 1, name="p")(x))
        return L.Flatten()(L.Conv2D(2, 3, padding="same", name="c")(h))

    (site,) = sites_of(net, (5, 5, 3)).spec.sites
    assert "3x3 kernel" in site.linear_block
    assert not site.nonzero_constants  # padded: only dead channels go


@pytest.mark.parametrize(
    "between,constants", [(L.MaxPooling2D, True), (L.ZeroPadding2D, False)]
)
def test_pooling_and_padding_pass_dead_channels(between, constants):
    def net(x):
        h = L.ReLU(name="r")(L.Conv2D(8, 1, name="p")(x))
        return L.Flatten()(L.Conv2D(2, 1, name="c")(between()(h)))

    (site,) = sites_of(net, (4, 4, 3)).spec.sites
    assert "sits before the consumers" in site.linear_block
    assert site.nonzero_constants is constants


def test_concatenate_splits_the_reader_into_parts():
    def net(x):
        a = L.Dense(3, activation="relu", name="a")(x)
        cat = L.Concatenate(name="cat")([a, x])
        return L.Dense(2, name="c")(cat)

    found = sites_of(net)
    (site,) = found.spec.sites
    assert site.consumers == ("c",)
    assert found.spec.linears["c"].parts == (("a", 3), ("x", 4))
    assert found.spec.bypassed == ("cat",)


def test_shared_producer_is_one_site_over_its_calls():
    def net(x):
        p = L.Dense(8, activation="relu", name="p")
        c = L.Dense(2, name="c")
        return L.Add()([c(p(x)), c(p(L.Dense(4, name="pre")(x)))])

    found = sites_of(net)
    (site,) = found.spec.sites
    assert site.name == "p" and len(found.bindings["p"].tensor) == 2
    assert found.spec.linears["p"].source == "p_input"


def test_unknown_layers_are_listed_as_unchanged():
    found = sites_of(lambda x: L.LayerNormalization(name="ln")(L.Dense(3, name="d")(x)))
    assert found.unchanged == (("ln", "LayerNormalization"),)


def test_concatenate_of_the_same_activation_twice_is_refused():
    """Both parts would get the site's key and one block would be lost
    (found by the property test: outputs off by 23)."""

    def net(x):
        a = L.Dense(3, activation="relu", name="a")(x)
        twice = L.Concatenate(name="cat")([a, L.Dropout(0.5)(a)])
        return L.Dense(2, name="c")(twice)

    assert "joins the same tensor more than once" in only_rejection(sites_of(net))


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


def test_a_dense_behind_flatten_has_one_tap_per_position():
    def net(x):
        h = L.Conv2D(5, 3, padding="same", activation="relu", name="p")(x)
        return L.Dense(2, name="c")(L.Flatten(name="flat")(h))

    found = sites_of(net, shape=(4, 3, 2))
    (site,) = found.spec.sites
    c = found.spec.linears["c"]
    assert site.consumers == ("c",) and "'flat' (Flatten)" in site.linear_block
    assert (c.in_width, c.taps, c.units) == (5, 12, 2)
    assert c.params == 5 * 12 * 2 + 2 and not c.pointwise
