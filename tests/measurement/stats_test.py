"""`ActivationStats.merge`: shards measured apart equal one pass."""

import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune import ActivationStats
from tests import factories as f


def assert_same_stats(a, b):
    assert a.rows == b.rows and a.sites == b.sites
    for k in a.sites:
        np.testing.assert_array_equal(a.piece_counts[k], b.piece_counts[k])
        np.testing.assert_array_equal(a.observations[k], b.observations[k])


def test_merged_shards_equal_one_pass_and_plan_alike():
    model = f.shape_biases(f.mlp((6, 24, 12, 3)), on=0.3, dead=0.2)
    x = f.data(300, 6)
    whole = linprune.measure(model, x, verbose=0)
    shards = [linprune.measure(model, part, verbose=0) for part in (x[:70], x[70:])]
    merged = ActivationStats.merge(*shards)
    assert_same_stats(merged, whole)
    assert merged.rows == 300
    _, from_merged = linprune.apply(model, merged, threshold=0.95)
    _, from_whole = linprune.apply(model, whole, threshold=0.95)
    assert from_merged.drop(columns="certified").equals(
        from_whole.drop(columns="certified")
    )


def test_merging_sums_the_counts_of_a_shared_layer_per_call():
    # Hand-written counts: a site of a layer called twice, 2 pieces, 2 units.
    a = ActivationStats(
        {"s": np.array([[[1, 2], [3, 2]], [[4, 0], [0, 4]]])},
        {"s": [4, 4]},
        4,
        "f",
        "m",
    )
    b = ActivationStats(
        {"s": np.array([[[0, 1], [1, 0]], [[1, 1], [0, 0]]])},
        {"s": [1, 1]},
        1,
        "f",
        "m",
    )
    merged = ActivationStats.merge(a, b)
    assert merged.piece_counts["s"].tolist() == [[[1, 3], [4, 2]], [[5, 1], [0, 4]]]
    assert merged.observations["s"].tolist() == [5, 5]
    assert merged.rows == 5


def test_identical_rows_only_if_every_shard_had_them():
    one = ActivationStats(
        {"h": np.array([1])}, {"h": 1}, 1, "f", "m", identical_rows=True
    )
    two = ActivationStats({"h": np.array([0])}, {"h": 3}, 3, "f", "m")
    assert ActivationStats.merge(one, one).identical_rows
    assert not ActivationStats.merge(one, two).identical_rows


def test_merging_statistics_of_different_models_is_refused():
    a = ActivationStats({"h": np.array([1])}, {"h": 1}, 1, "f1", "m")
    b = ActivationStats({"h": np.array([1])}, {"h": 1}, 1, "f2", "m")
    with pytest.raises(ValueError, match="same model. Received"):
        ActivationStats.merge(a, b)
    with pytest.raises(ValueError, match="at least one.*Received"):
        ActivationStats.merge()
