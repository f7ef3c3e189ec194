import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.plan import planner as plan_lib
from keras_linprune.plan import policies
from tests import factories as f
from tests.plan.planner_test import chain_spec


def spread_rates(spec, seed=0):
    rng = np.random.default_rng(seed)
    return {s.name: np.round(rng.uniform(0.3, 1.0, s.width), 2) for s in spec.sites}


def test_target_picks_the_highest_threshold_that_fits():
    spec = chain_spec([100, 64, 64, 50])
    rates = spread_rates(spec)
    budget = int(0.6 * spec.total_params)
    plan, _ = policies.SizeTarget(params=budget).plan(spec, rates)
    assert plan.params <= budget
    t = plan.options["threshold"]
    # Every higher candidate threshold misses the budget.
    for c in policies.candidate_thresholds(spec, rates):
        if c > t:
            assert plan_lib.make_plan(spec, rates, threshold=c).params > budget


def test_candidate_thresholds_are_the_distinct_rates():
    spec = chain_spec([4, 3, 2])
    cands = policies.candidate_thresholds(spec, {"d0": np.array([0.5, 0.9, 0.5])})
    assert cands == [1.0, 0.9, 0.5]


def test_unreachable_target_reports_the_smallest_size():
    spec = chain_spec([4, 64, 3])
    with pytest.raises(
        ValueError,
        match=r"smallest model folding can reach "
        r"has [\d,]+ parameters",
    ):
        policies.SizeTarget(params=10).plan(spec, {"d0": np.full(64, 0.5)})


def test_prototype_fixed_size_search():
    spec = chain_spec([100, 64, 64, 50])
    rates = spread_rates(spec)
    plan, _ = policies.StepSearch(0.7, 0.05).plan(spec, rates, shortcut="dense")
    t = plan.options["threshold"]
    assert t == pytest.approx(round(t / 0.05) * 0.05)  # on the step grid
    first = spec.linears["d0"]
    without_first = plan.params - plan.layout["d0"].params
    assert without_first <= 0.7 * (spec.total_params - first.params)
    higher = plan_lib.make_plan(
        spec, rates, threshold=round(t + 0.05, 12), shortcut="dense"
    )
    assert higher.params - higher.layout["d0"].params > 0.7 * (
        spec.total_params - first.params
    )
    with pytest.raises(ValueError, match="stepping the threshold by 0.1"):
        policies.StepSearch(0.01, 0.1).plan(
            chain_spec([4, 64, 3]), {"d0": np.full(64, 0.5)}
        )


def test_apply_with_target_size():
    model = f.shape_biases(f.mlp((20, 64, 64, 3)), on=0.3, dead=0.1)
    x = f.data(300, 20)
    small, report = linprune.apply(model, x, target_size=0.5, verbose=0)
    assert small.count_params() <= 0.5 * model.count_params()
    assert report.attrs["target_size"] == 0.5
    assert report.attrs["threshold"] <= 1.0
    small2, _ = linprune.apply(model, x, target_params=small.count_params(), verbose=0)
    assert small2.count_params() == small.count_params()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(target_size=0.0), "target_size"),
        (dict(target_size=1.5), "target_size"),
        (dict(target_size=True), "target_size"),
        (dict(target_params=0), "target_params"),
        (dict(target_size=0.5, target_params=10), "one of"),
        (dict(target_size=0.5, threshold=0.9), "either `threshold` or a size"),
        (dict(target_step=0.05), "only together with"),
        (dict(target_size=0.5, target_step=1.5), "target_step"),
        (dict(target_params=100, target_step=0.05), "with `target_size`"),
    ],
)
def test_bad_targets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        linprune.apply(f.mlp(), f.data(), **kwargs)


def guard_model():
    model = f.shape_biases(
        f.mlp((20, 64, 64, 3), output_activation="softmax"), on=0.3, dead=0.1, scale=0.6
    )
    x = f.data(400, 20)
    y = np.argmax(model.predict(x, verbose=0), axis=1)
    return model, x, y


@pytest.mark.slow
def test_metric_guard_keeps_accuracy_within_the_margin():
    model, x, y = guard_model()
    x_eval, y_eval = x[:200], y[:200]
    for drop in (0.0, 0.05, 0.2):
        small, report = linprune.apply(
            model,
            x,
            max_metric_drop=drop,
            eval_data=(x_eval, y_eval),
            metric="accuracy",
            verbose=0,
        )
        small.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        acc = small.evaluate(x_eval, y_eval, verbose=0, return_dict=True)["accuracy"]
        assert report.attrs["metric_before"] == pytest.approx(1.0)
        assert acc == pytest.approx(report.attrs["metric_after"])
        assert 1.0 - acc <= drop + 1e-9
        assert small.count_params() == report.attrs["params_after"]
    # A looser guard never gives a bigger model here (the guard over
    # thresholds, for folding alone, too).
    for remove in ("auto", False):
        sizes = [
            linprune.apply(
                model,
                x,
                max_metric_drop=d,
                eval_data=(x_eval, y_eval),
                remove_inactive=remove,
                verbose=0,
            )[0].count_params()
            for d in (0.0, 0.5)
        ]
        assert sizes[1] <= sizes[0]


def test_metric_guard_with_a_loss_metric():
    model, x, y = guard_model()
    onehot = np.eye(3)[y]
    small, report = linprune.apply(
        model, x, max_metric_drop=0.01, eval_data=(x, onehot), metric="mse", verbose=0
    )
    assert report.attrs["metric_after"] <= report.attrs["metric_before"] + 0.01


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(max_metric_drop=0.1), "eval_data"),
        (dict(max_metric_drop=-0.1, eval_data="xy"), "max_metric_drop"),
        (
            dict(max_metric_drop=0.1, eval_data="xy", threshold=0.9),
            "one way of choosing",
        ),
        (
            dict(max_metric_drop=0.1, eval_data="xy", target_size=0.5),
            "one way of choosing",
        ),
        (
            dict(max_metric_drop=0.1, eval_data="xy", metric="no_such_metric"),
            "metric names",
        ),
    ],
)
def test_bad_guard_arguments(kwargs, match):
    model, x, y = guard_model()
    if kwargs.get("eval_data") == "xy":
        kwargs["eval_data"] = (x, y)
    with pytest.raises(ValueError, match=match):
        linprune.apply(model, x, verbose=0, **kwargs)


@pytest.mark.parametrize("seed", range(8))
def test_params_floor_never_exceeds_a_plan(seed):
    # Random graphs (convs, concatenations, every activation, nesting) with
    # random per-piece rates: the floor that lets size targets skip a
    # threshold must be below every plan there, forced folds included.
    from keras_linprune.analysis import analyse
    from keras_linprune.examples.random_graphs import random_model

    model, _ = random_model(1000 + seed, layers=5, kind=("vector", "image")[seed % 2])
    spec = analyse(model).spec
    rng = np.random.default_rng(seed)
    rates = {}
    for site in spec.sites:
        r = rng.dirichlet(np.ones(len(site.activation.pieces)), site.width).T
        r[:, : site.width // 2] = np.eye(len(r))[rng.integers(len(r))][:, None]
        rates[site.name] = r
    for rule, inactive in (("optimal", False), (0, False), ("optimal", True)):
        planner = plan_lib.Planner(
            spec, rates, layer_threshold=rule, remove_inactive=inactive
        )
        for t in policies.candidate_thresholds(spec, rates, inactive):
            assert planner.params_floor(t) <= planner.plan(t).params


def test_size_target_skipping_finds_what_a_full_scan_finds():
    spec = chain_spec([60, 48, 40, 32, 24, 8])
    rates = spread_rates(spec, seed=4)
    for fraction in (0.9, 0.7, 0.5, 0.4):
        budget = int(fraction * spec.total_params)
        try:
            plan, _ = policies.SizeTarget(params=budget).plan(spec, rates)
        except ValueError:
            plan = None
        planner = plan_lib.Planner(spec, rates)
        scan = [planner.plan(t) for t in policies.candidate_thresholds(spec, rates)]
        first = next((p for p in scan if p.params <= budget), None)
        assert (plan is None) == (first is None)
        if plan is not None:
            assert plan.options["threshold"] == first.options["threshold"]
            assert plan.params == first.params


def test_params_floor_is_reached_when_the_shortcut_is_free():
    # c reads concat([relu(p(x)), x]): folding p's neurons moves them onto
    # the x rows c already has, so every saving of the floor is real.
    from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec

    linears = {
        "p": LinearSpec("p", "x", 6, 8, True),
        "c": LinearSpec("c", "p", 14, 3, True, parts=(("p", 8), ("x", 6))),
    }
    spec = GraphSpec(linears, (SiteSpec("p", "p", ("c",), 8),), (), 8 * 7 + 3 * 15)
    rates = {"p": np.ones(8)}
    planner = plan_lib.Planner(spec, rates, layer_threshold=0)
    plan = planner.plan(1.0)
    assert plan.params == 3 * (6 + 1)  # p is gone; c reads x alone
    assert planner.params_floor(1.0) == plan.params  # 101 - 8 * (7 + 3)


def test_the_fold_only_and_equal_mixes_are_the_earlier_targets():
    """Mix 0 is the target without inactive removal, mix 1 the target with
    it at the fold threshold: the same plans as the planner's own."""
    spec = chain_spec([100, 64, 64, 50])
    rates = spread_rates(spec, seed=1)
    budget = int(0.5 * spec.total_params)
    for mix, remove in ((0.0, False), (1.0, True)):
        plan, _ = policies.SizeTarget(params=budget, mixes=(mix,)).plan(
            spec, rates, remove_inactive=True
        )
        t = plan.options["threshold"]
        same = plan_lib.make_plan(spec, rates, threshold=t, remove_inactive=remove)
        assert plan.params == same.params <= budget
        for key, d in plan.decisions.items():
            np.testing.assert_array_equal(d.keep, same.decisions[key].keep)


def test_mix_points_move_both_thresholds_down_together():
    spec = chain_spec([4, 3, 2])
    rates = {"d0": np.array([[0.1, 0.6, 0.2], [0.9, 0.4, 0.8]])}  # (off, on) pieces
    half = policies.mix_points(spec, rates, 0.5)
    assert half[0] == (1.0, 1.0)
    # Fold rates 0.9, 0.8, 0.4 (their inactive threshold loses half as many
    # rows) and the inactive rate 0.6 of neuron 1, where removal beats its
    # fold (its fold threshold: 1 - 0.4 / 0.5).
    assert half[1:] == [
        (0.9, pytest.approx(0.95)),
        (0.8, pytest.approx(0.9)),
        (0.4, pytest.approx(0.7)),
        (pytest.approx(0.2), 0.6),
    ]
    alone = policies.mix_points(spec, rates, np.inf)
    assert alone == [(1.0, 1.0), (1.0, 0.6)]
    assert all(i == np.inf for _, i in policies.mix_points(spec, rates, 0.0))


def test_a_score_chooses_among_the_mixes_and_says_so():
    spec = chain_spec([100, 64, 64, 50])
    rates = spread_rates(spec, seed=2)
    budget = int(0.5 * spec.total_params)
    scored = []

    def score(plan):  # prefers plans that keep more of site d1
        scored.append(plan)
        return -float(plan.decisions["d1"].keep.size)

    target = policies.SizeTarget(params=budget, mixes=policies.MIXES, score=score)
    plan, notes = target.plan(spec, rates, remove_inactive=True)
    candidates = notes["target_candidates"]
    # Removal alone (beside exact folds) cannot reach this budget.
    assert [c["mix"] for c in candidates] == [0.0, 0.5, 1.0, 2.0]
    assert len(scored) <= len(candidates)
    best = max(p.decisions["d1"].keep.size for p in scored)
    assert plan.decisions["d1"].keep.size == best
    assert notes["target_mix"] in policies.MIXES and plan.params <= budget


def test_a_size_guard_returns_the_smallest_budget_that_meets_the_guard():
    spec = chain_spec([100, 64, 64, 50])
    rates = spread_rates(spec, seed=3)
    total = spec.total_params
    judged = []

    def metric(plan):  # a made-up metric: the share of parameters kept
        judged.append(plan)
        return plan.params / total

    guard = policies.MetricGuard(0.4, "share", False, 1.0, metric)
    sized = policies.SizeGuard(guard, policies.MIXES, lambda plan: -plan.params)
    plan, notes = sized.plan(spec, rates, remove_inactive=True)
    assert 0.6 <= plan.params / total <= 0.6 + 0.01  # 8 halvings of the budget
    assert notes["metric_after"] == plan.params / total
    assert notes["guard_evaluations"] == len(judged) <= 8
    assert {"target_candidates", "target_mix"} <= set(notes)
