"""From an activation to its consumers: pooling, padding, Concatenate, Flatten."""

import keras
import pytest

from tests.graph.sites.common import only_rejection, sites_of

L = keras.layers


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


def test_concatenate_of_the_same_activation_twice_is_refused():
    """Both parts would get the site's key and one block would be lost
    (found by the property test: outputs off by 23)."""

    def net(x):
        a = L.Dense(3, activation="relu", name="a")(x)
        twice = L.Concatenate(name="cat")([a, L.Dropout(0.5)(a)])
        return L.Dense(2, name="c")(twice)

    assert "joins the same tensor more than once" in only_rejection(sites_of(net))


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
