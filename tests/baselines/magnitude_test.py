"""L1-magnitude structured pruning to a parameter budget."""

import numpy as np
import pytest

from keras_linprune.baselines.magnitude import prune_by_magnitude
from tests import factories as f


def test_the_budget_is_met_and_the_weakest_units_go():
    model = f.mlp((6, 32, 32, 3))
    first = f.linear_layers(model)[0]
    kernel, bias = first.get_weights()
    kernel[:, :8] *= 1e-3  # units 0-7 of the first layer: the weakest
    first.set_weights([kernel, bias])
    pruned, info = prune_by_magnitude(model, target_params=600)
    assert pruned.count_params() == info["params"] <= 600
    assert info["params"] > 400  # no more is removed than the budget asks
    kept = f.linear_layers(pruned)[0].get_weights()[0]
    # The strong units survive, in order, with their weights.
    strong = kernel[:, 8:]
    matches = [
        np.any(np.all(np.isclose(strong, col[:, None]), axis=0)) for col in kept.T
    ]
    assert all(matches)


def test_a_budget_below_one_unit_per_site_is_refused():
    with pytest.raises(ValueError, match="one unit per site"):
        prune_by_magnitude(f.mlp((6, 32, 32, 3)), target_params=10)
