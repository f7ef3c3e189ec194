"""The base kind and the helpers the kinds share."""

import keras
import numpy as np

from keras_linprune.graph import registry
from keras_linprune.graph.kinds import base


def test_an_unregistered_layer_is_opaque_and_unbounded():
    kind = registry.kind_of(keras.layers.LayerNormalization())
    assert (kind.role, kind.known, kind.flattens) == ("opaque", False, False)
    assert kind.interval(None, None, [(np.zeros(2), np.ones(2))], {}) is None


def test_positions_of_a_shape():
    assert base.positions((None, 5, 7, 3), channel_axis=-1) == 35
    assert base.positions((None, 3, 5, 7), channel_axis=1) == 35
    assert base.positions((None, None, 7, 3), channel_axis=-1) is None
    assert base.positions((None, 3), channel_axis=-1) == 1


def test_affine_bounds_take_the_matching_ends_of_the_box():
    kernel = np.array([[1.0, -2.0], [3.0, 0.5]])
    low, high = np.array([-1.0, 0.0]), np.array([1.0, 2.0])
    got_low, got_high = base.affine_bounds(
        low, high, kernel, np.array([0.5, 0.0]), lambda x, k: x @ k
    )
    corners = np.array([[a, b] for a in (-1.0, 1.0) for b in (0.0, 2.0)])
    values = corners @ kernel + [0.5, 0.0]
    np.testing.assert_allclose(got_low, values.min(axis=0))
    np.testing.assert_allclose(got_high, values.max(axis=0))


def test_position_rows_put_channels_last():
    v = np.arange(24, dtype="float32").reshape(2, 3, 4)  # channels_first: 3
    rows = keras.ops.convert_to_numpy(base.position_rows(v, channel_axis=1))
    assert rows.shape == (8, 3)
    np.testing.assert_array_equal(rows[0], v[0, :, 0])
