import itertools

import numpy as np
import pytest

from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
from keras_linprune.plan import decisions
from keras_linprune.plan import layout as layout_lib
from keras_linprune.plan import planner as plan_lib


def chain_spec(widths):
    """Spec of an MLP widths[0] -> ... -> widths[-1]; site i is layer d{i}."""
    linears, sites = {}, []
    source = "x"
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        linears[f"d{i}"] = LinearSpec(f"d{i}", source, a, b, True)
        source = f"d{i}"
    for i in range(len(widths) - 2):
        sites.append(SiteSpec(f"d{i}", f"d{i}", (f"d{i + 1}",), widths[i + 1]))
    total = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    return GraphSpec(linears, tuple(sites), (), total)


def rates_with(width, n_linear, n_dead=0):
    r = np.full(width, 0.5)
    r[:n_linear] = 1.0
    r[n_linear : n_linear + n_dead] = 0.0
    return r


def test_single_site_count_is_closed_form():
    spec = chain_spec([10, 20, 3])
    for n in [0, 1, 5, 20]:
        p = plan_lib.make_plan(
            spec,
            {"d0": rates_with(20, n)},
            layer_threshold=0,
            remove_dead=False,
            shortcut="dense",
        )
        saving = n * (10 + 3 + 1) - 10 * 3 if n else 0
        assert p.params == spec.total_params - saving


def test_dead_neurons_save_in_plus_one_plus_out():
    spec = chain_spec([10, 20, 3])
    p = plan_lib.make_plan(spec, {"d0": rates_with(20, 0, n_dead=4)})
    assert p.params == spec.total_params - 4 * (10 + 1 + 3)
    assert p.decisions["d0"].dead.tolist() == [0, 1, 2, 3]


def test_all_dead_site_keeps_one_neuron():
    spec = chain_spec([10, 20, 3])
    p = plan_lib.make_plan(spec, {"d0": np.zeros(20)})
    assert p.layout["d0"].units == 1
    assert p.params == (10 + 1) * 1 + (1 + 1) * 3


def test_chain_count_is_closed_form():
    # x(8) -> d0(12) -> d1(10) -> d2(4); fold J0 at d0 and J1 at d1.
    spec = chain_spec([8, 12, 10, 4])
    j0, j1 = 5, 3
    p = plan_lib.make_plan(
        spec,
        {"d0": rates_with(12, j0), "d1": rates_with(10, j1)},
        layer_threshold=0,
        shortcut="dense",
    )
    k0, k1 = 12 - j0, 10 - j1
    expected = (
        (8 + 1) * k0  # d0 keeps k0 units
        + (k0 + 8 + 1) * k1  # d1 reads h0 (k0) and x (8), keeps k1
        + (k1 + k0 + 8 + 1) * 4  # d2 reads h1, h0 and x
    )
    assert p.params == expected
    assert p.layout["d2"].sources == ("d1", "d0", "x")


def test_fully_folded_middle_layer_disappears():
    spec = chain_spec([8, 12, 10, 4])
    p = plan_lib.make_plan(
        spec,
        {"d0": rates_with(12, 12), "d1": rates_with(10, 2)},
        layer_threshold=0,
        shortcut="dense",
    )
    assert p.layout["d0"].units == 0
    assert p.layout["d1"].sources == ("x",)
    assert p.params == (8 + 1) * 8 + (8 + 8 + 1) * 4


def brute_force_counts(spec, rates):
    """Exact count of every subset of folded sites (dead removal on)."""
    names = [s.name for s in spec.sites]
    out = {}
    for mask in itertools.product([False, True], repeat=len(names)):
        lt = {n: (0 if m else 10**9) for n, m in zip(names, mask)}
        decisions = {}
        for site in spec.sites:
            one = GraphSpec(spec.linears, spec.sites, (), spec.total_params)
            p = plan_lib.make_plan(
                one, rates, layer_threshold=lt[site.name], shortcut="dense"
            )
            decisions[site.name] = p.decisions[site.name]
        out[mask] = spec.fixed_params + sum(
            n.params for n in layout_lib.layout_of(spec, decisions, "dense").values()
        )
    return out


@pytest.mark.parametrize("int_rule,float_rule", [(0, 0.0), (3, 0.25), (10, 0.5)])
def test_int_and_float_layer_thresholds(int_rule, float_rule):
    spec = chain_spec([8, 12, 16, 10, 4])
    n_linear = {"d0": 2, "d1": 8, "d2": 6}
    rates = {s.name: rates_with(s.width, n_linear[s.name]) for s in spec.sites}
    p_int = plan_lib.make_plan(spec, rates, layer_threshold=int_rule)
    p_float = plan_lib.make_plan(spec, rates, layer_threshold=float_rule)
    for site in spec.sites:
        n = n_linear[site.name]
        assert p_int.decisions[site.name].folded == (n > int_rule)
        assert p_float.decisions[site.name].folded == (n / site.width > float_rule)
        if not p_int.decisions[site.name].folded:
            assert "below layer threshold" in p_int.decisions[site.name].reason


def test_string_layer_threshold_folds_only_when_count_drops():
    # Widening layer d0 (8 -> 64) pays off; d1 (64 -> 64 with 3 linear)
    # does not.
    spec = chain_spec([8, 64, 64, 4])
    rates = {"d0": rates_with(64, 40), "d1": rates_with(64, 3)}
    for rule in decisions.LAYER_THRESHOLD_STRINGS:
        p = plan_lib.make_plan(spec, rates, layer_threshold=rule)
        assert p.decisions["d0"].folded and not p.decisions["d1"].folded
        assert "no saving" in p.decisions["d1"].reason
    counts = brute_force_counts(spec, rates)
    assert p.params == counts[(True, False)] == min(counts.values())


def method_chain_rates(threshold_share=0.8, seed=0):
    spec = chain_spec([30, 64, 128, 128, 256, 256, 1])
    rng = np.random.default_rng(seed)
    rates = {
        s.name: np.where(rng.uniform(size=s.width) < threshold_share, 1.0, 0.5)
        for s in spec.sites
    }
    return spec, rates


@pytest.mark.parametrize("share", [0.3, 0.6, 0.8, 0.95])
def test_optimal_is_the_best_subset(share):
    # docs/method.md, 10: the prototype's estimate skips chained sites that pay
    # off; the exact optimum over site subsets is what "optimal" returns.
    spec, rates = method_chain_rates(share)
    counts = brute_force_counts(spec, rates)
    for rule in ("optimal", "best"):
        p = plan_lib.make_plan(spec, rates, layer_threshold=rule, shortcut="dense")
        chosen = tuple(p.decisions[s.name].folded for s in spec.sites)
        assert p.params == counts[chosen] == min(counts.values())


@pytest.mark.parametrize("share", [0.3, 0.6, 0.8])
def test_greedy_and_sequential_rules(share):
    spec, rates = method_chain_rates(share)
    counts = brute_force_counts(spec, rates)
    names = [s.name for s in spec.sites]

    def count(subset):
        return counts[tuple(n in subset for n in names)]

    chosen = set()  # the prototype's seq_compression, written out
    while True:
        options = {
            n: count(chosen) - count(chosen | {n}) for n in names if n not in chosen
        }
        best = max(options, key=options.get, default=None)
        if best is None or options[best] <= 0:
            break
        chosen.add(best)
    p = plan_lib.make_plan(spec, rates, layer_threshold="greedy", shortcut="dense")
    assert {k for k, d in p.decisions.items() if d.folded} == chosen
    in_order = set()
    for n in names:
        if count(in_order | {n}) < count(in_order):
            in_order.add(n)
    p = plan_lib.make_plan(spec, rates, layer_threshold="sequential", shortcut="dense")
    assert {k for k, d in p.decisions.items() if d.folded} == in_order


def test_local_search_beyond_the_exhaustive_limit(monkeypatch):
    from keras_linprune.plan import selection

    spec, rates = method_chain_rates(0.6)
    exact = plan_lib.make_plan(spec, rates, shortcut="dense")
    monkeypatch.setattr(selection, "EXHAUSTIVE_LIMIT", 2)
    local = plan_lib.make_plan(spec, rates, shortcut="dense")
    sequential = plan_lib.make_plan(
        spec, rates, layer_threshold="sequential", shortcut="dense"
    )
    assert exact.params <= local.params <= sequential.params


def test_rates_below_threshold_are_not_linear():
    spec = chain_spec([4, 6, 2])
    r = np.array([1.0, 0.99, 0.95, 0.5, 0.0, 1.0])
    p = plan_lib.make_plan(spec, {"d0": r}, threshold=0.95, layer_threshold=0)
    assert p.decisions["d0"].linear.tolist() == [0, 1, 2, 5]
    assert p.decisions["d0"].dead.tolist() == [4]
    p = plan_lib.make_plan(
        spec, {"d0": r}, threshold=0.0, layer_threshold=0, remove_dead=False
    )
    assert p.decisions["d0"].linear.tolist() == [0, 1, 2, 3, 4, 5]


def test_auto_shortcut_factors_when_smaller():
    # 100 -> 64 -> 50: folding 5 neurons, the 100x50 shortcut has rank <= 5.
    spec = chain_spec([100, 64, 50])
    rates = {"d0": rates_with(64, 5)}
    dense = plan_lib.make_plan(spec, rates, layer_threshold=0, shortcut="dense")
    auto = plan_lib.make_plan(spec, rates, layer_threshold=0)
    assert dense.params - auto.params == 100 * 50 - 5 * (100 + 50)
    assert auto.layout["d1"].ranks == {"x": 5}
    # Folding never costs parameters: it saves at least |J|.
    none = plan_lib.make_plan(spec, {"d0": rates_with(64, 0)})
    assert none.params - auto.params >= 5
    # A small shortcut stays a full matrix.
    small = plan_lib.make_plan(
        chain_spec([4, 64, 3]), {"d0": rates_with(64, 5)}, layer_threshold=0
    )
    assert small.layout["d1"].ranks == {}


def test_auto_shortcut_rank_bound_in_chains():
    spec = chain_spec([100, 64, 64, 50])
    rates = {"d0": rates_with(64, 6), "d1": rates_with(64, 4)}
    p = plan_lib.make_plan(spec, rates, layer_threshold=0)
    # d1 reads x through rank 6; d2 reads h0 and x through rank <= 4.
    assert p.layout["d1"].ranks == {"x": 6}
    assert p.layout["d2"].ranks == {"d0": 4, "x": 4}
    k0, k1 = 58, 60
    expected = (
        101 * k0
        + (k0 + 1) * k1
        + 6 * (100 + k1)
        + (k1 + 1) * 50
        + 4 * (k0 + 50)
        + 4 * (100 + 50)
    )
    assert p.params == expected


@pytest.mark.parametrize("shortcut", ["auto", "dense"])
def test_the_size_promise_holds_for_the_site_rules_not_for_forced_folds(shortcut):
    """README: `optimal`, `greedy` and `sequential` accept a fold only when
    the exact count goes down, so the result is never larger; forcing every
    site to fold (`layer_threshold=0`) can make it larger."""
    # x(100) -> d0 -> d1 -> d2 -> d3 (8 units) -> d4(3), one linear neuron
    # per site: each forced fold passes a shortcut from the wide input on.
    spec = chain_spec([100, 8, 8, 8, 8, 3])
    rates = {f"d{i}": np.array([1.0] + [0.5] * 7) for i in range(4)}
    assert spec.total_params == 1051
    for rule in ("optimal", "greedy", "sequential"):
        plan = plan_lib.make_plan(spec, rates, layer_threshold=rule, shortcut=shortcut)
        assert plan.params <= spec.total_params
    forced = plan_lib.make_plan(spec, rates, layer_threshold=0, shortcut=shortcut)
    assert all(d.folded for d in forced.decisions.values())
    assert forced.params > spec.total_params


def test_an_inactive_threshold_of_its_own():
    spec = chain_spec([6, 8, 3])
    on = np.array([1.0, 1.0, 0.95, 0.9, 0.5, 0.5, 0.05, 0.02])
    rates = {"d0": np.stack([1.0 - on, on])}
    planner = plan_lib.Planner(spec, rates, remove_inactive=True)
    # Above 1: nothing removed as inactive, as without the option.
    plain = plan_lib.make_plan(spec, rates, threshold=0.9)
    none = planner.plan(0.9, np.inf)
    np.testing.assert_array_equal(none.decisions["d0"].keep, plain.decisions["d0"].keep)
    assert none.params == plain.params
    # Its own threshold: neurons off on >= 0.95 of the rows go (6 and 7),
    # while only those on for >= 0.9 fold.
    mixed = planner.plan(0.9, 0.95).decisions["d0"]
    assert mixed.constant.tolist() == [6, 7]
    assert mixed.linear.tolist() == [0, 1, 2, 3]
    assert planner.plan(0.9, 0.95).options["inactive_threshold"] == 0.95
    # The floor bounds every such plan from below.
    for t, i in [(1.0, 1.0), (0.9, 0.95), (0.5, 0.97), (1.0, 0.0)]:
        assert planner.params_floor(t, i) <= planner.plan(t, i).params


def test_every_refusal_reason_says_why_and_what_would_change_it():
    """Issue 24: each reason the planner gives, word for word (around the
    saving, which the count tests check), with the option that changes
    it, and the plural right."""
    # d1's 3 linear neurons (64 -> 64 -> 4) would bring d2 the shortcut
    # terms of d1 and of d0's own fold: more than the neurons save.
    spec = chain_spec([8, 64, 64, 4])
    rates = {"d0": rates_with(64, 40), "d1": rates_with(64, 3)}
    plan = plan_lib.make_plan(spec, rates)
    reason = plan.decisions["d1"].reason
    assert reason.startswith(
        "no saving: folding its 3 linear neurons would add "
    ) and reason.endswith(
        " to the parameter count (the shortcut costs more than the neurons); "
        "layer_threshold=0 folds it anyway"
    )
    one = chain_spec([4, 6, 2])
    single = plan_lib.make_plan(one, {"d0": rates_with(6, 1)}, layer_threshold=1)
    assert single.decisions["d0"].reason == (
        "below layer threshold: 1 linear neuron, more than 1 needed; "
        "a lower layer_threshold folds it"
    )
    share = plan_lib.make_plan(one, {"d0": rates_with(6, 3)}, layer_threshold=0.5)
    assert share.decisions["d0"].reason == (
        "below layer threshold: 3/6 = 0.5 linear, more than 0.5 needed; "
        "a lower layer_threshold folds it"
    )
    # "sequential" decides d1 before d2 folds; with d2 folded, d1 would pay.
    chain = chain_spec([15, 18, 13, 39, 17])
    linear = {"d0": 8, "d1": 12, "d2": 33}
    rates = {s.name: rates_with(s.width, linear[s.name]) for s in chain.sites}
    late = plan_lib.make_plan(chain, rates, layer_threshold="sequential")
    assert late.decisions["d1"].reason == (
        "not chosen by layer_threshold='sequential': folding its 12 linear "
        "neurons would lower the parameter count by 13 given the other folds; "
        "layer_threshold='optimal' finds it"
    )
    none = plan_lib.make_plan(one, {"d0": np.full(6, 0.5)}, threshold=0.9)
    assert none.decisions["d0"].reason == (
        "no neuron reaches the threshold: none is linear on at least 0.9 of "
        "the calibration rows; a lower threshold (or a size target) folds some"
    )
