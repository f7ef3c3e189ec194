import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune import plan as plan_lib
from keras_linprune import targets
from tests import factories as f
from tests.plan_test import chain_spec


def spread_rates(spec, seed=0):
    rng = np.random.default_rng(seed)
    return {s.name: np.round(rng.uniform(0.3, 1.0, s.width), 2)
            for s in spec.sites}


def test_target_picks_the_highest_threshold_that_fits():
    spec = chain_spec([100, 64, 64, 50])
    rates = spread_rates(spec)
    budget = int(0.6 * spec.total_params)
    plan = targets.plan_for_target(spec, rates, budget)
    assert plan.params <= budget
    t = plan.options["threshold"]
    # Every higher candidate threshold misses the budget.
    for c in targets.candidate_thresholds(spec, rates):
        if c > t:
            assert plan_lib.make_plan(spec, rates, threshold=c).params > budget


def test_candidate_thresholds_are_the_distinct_rates():
    spec = chain_spec([4, 3, 2])
    cands = targets.candidate_thresholds(spec, {"d0": np.array([0.5, 0.9,
                                                                0.5])})
    assert cands == [1.0, 0.9, 0.5]


def test_unreachable_target_reports_the_smallest_size():
    spec = chain_spec([4, 64, 3])
    with pytest.raises(ValueError, match=r"smallest model folding can reach "
                                         r"has [\d,]+ parameters"):
        targets.plan_for_target(spec, {"d0": np.full(64, 0.5)}, 10)


def test_prototype_fixed_size_search():
    spec = chain_spec([100, 64, 64, 50])
    rates = spread_rates(spec)
    plan = targets.plan_for_fixed_size(spec, rates, 0.7, 0.05,
                                       shortcut="dense")
    t = plan.options["threshold"]
    assert t == pytest.approx(round(t / 0.05) * 0.05)  # on the step grid
    first = spec.linears["d0"]
    without_first = plan.params - plan.layout["d0"].params
    assert without_first <= 0.7 * (spec.total_params - first.params)
    higher = plan_lib.make_plan(spec, rates, threshold=round(t + 0.05, 12),
                                shortcut="dense")
    assert (higher.params - higher.layout["d0"].params
            > 0.7 * (spec.total_params - first.params))
    with pytest.raises(ValueError, match="stepping the threshold by 0.1"):
        targets.plan_for_fixed_size(chain_spec([4, 64, 3]),
                                    {"d0": np.full(64, 0.5)}, 0.01, 0.1)


def test_apply_with_target_size():
    model = f.shape_biases(f.mlp((20, 64, 64, 3)), on=0.3, dead=0.1)
    x = f.data(300, 20)
    small, report = linprune.apply(model, x, target_size=0.5, verbose=0)
    assert small.count_params() <= 0.5 * model.count_params()
    assert report.attrs["target_size"] == 0.5
    assert report.attrs["threshold"] <= 1.0
    small2, _ = linprune.apply(model, x, target_params=small.count_params(),
                               verbose=0)
    assert small2.count_params() == small.count_params()


@pytest.mark.parametrize("kwargs,match", [
    (dict(target_size=0.0), "target_size"),
    (dict(target_size=1.5), "target_size"),
    (dict(target_size=True), "target_size"),
    (dict(target_params=0), "target_params"),
    (dict(target_size=0.5, target_params=10), "one of"),
    (dict(target_size=0.5, threshold=0.9), "either `threshold` or a size"),
    (dict(target_step=0.05), "only together with"),
    (dict(target_size=0.5, target_step=1.5), "target_step"),
    (dict(target_params=100, target_step=0.05), "with `target_size`"),
])
def test_bad_targets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        linprune.apply(f.mlp(), f.data(), **kwargs)
