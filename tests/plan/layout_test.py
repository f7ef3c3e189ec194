"""Independent groups of sites (`layout.site_groups`) and the optimal site
search group by group: the same optimum as searching every subset."""

import itertools

import numpy as np
import pytest

from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
from keras_linprune.plan import layout as layout_lib
from keras_linprune.plan import planner as plan_lib
from keras_linprune.plan import selection


def chains_spec(*chains):
    """Independent MLP chains from one input `x`: chain `c` has layers
    `c0, c1, ...` of the given widths, site `ci` at layer `ci`."""
    linears, sites, total = {}, [], 0
    for name, widths in chains:
        source = "x"
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            linears[f"{name}{i}"] = LinearSpec(f"{name}{i}", source, a, b, True)
            source = f"{name}{i}"
            total += (a + 1) * b
        for i in range(len(widths) - 2):
            sites.append(
                SiteSpec(f"{name}{i}", f"{name}{i}", (f"{name}{i + 1}",), widths[i + 1])
            )
    return GraphSpec(linears, tuple(sites), (), total)


def test_independent_chains_are_separate_groups():
    spec = chains_spec(("a", [4, 6, 6, 6, 2]), ("b", [4, 5, 5, 2]))
    keys = [s.name for s in spec.sites]
    assert layout_lib.site_groups(spec, keys) == [["a0", "a1", "a2"], ["b0", "b1"]]


def test_a_site_that_cannot_fold_cuts_its_chain():
    spec = chains_spec(("a", [4, 6, 6, 6, 2]))
    # a1 never folds: a0's terms cannot reach a2's producer's consumer.
    assert layout_lib.site_groups(spec, ["a0", "a2"]) == [["a0"], ["a2"]]
    assert layout_lib.site_groups(spec, ["a0", "a1", "a2"]) == [["a0", "a1", "a2"]]


def every_subset_minimum(spec, rates):
    """The smallest exact count over all subsets of sites, by brute force
    (dead neurons removed)."""
    folded = plan_lib.make_plan(spec, rates, layer_threshold=0).decisions
    base = plan_lib.make_plan(spec, rates, layer_threshold=10**9).decisions
    names = [s.name for s in spec.sites]
    best = None
    for mask in itertools.product([False, True], repeat=len(names)):
        chosen = {n: (folded if m else base)[n] for n, m in zip(names, mask)}
        layout = layout_lib.layout_of(spec, chosen, "auto")
        count = layout_lib.total_params(spec, chosen, layout)
        best = count if best is None else min(best, count)
    return best


def test_groups_give_the_exact_optimum_beyond_the_exhaustive_limit():
    rng = np.random.default_rng(3)
    spec = chains_spec(
        ("a", [20, 24, 16, 24, 12, 16, 12, 3]), ("b", [20, 16, 24, 8, 16, 20, 3, 2])
    )
    assert len(spec.sites) > selection.EXHAUSTIVE_LIMIT
    rates = {}
    for site in spec.sites:
        r = np.full(site.width, 0.5)
        r[rng.permutation(site.width)[: rng.integers(2, site.width)]] = 1.0
        rates[site.name] = r
    plan = plan_lib.make_plan(spec, rates)
    assert plan.options["site_search"] == "exact"
    assert plan.params == every_subset_minimum(spec, rates)
    assert any(d.folded for d in plan.decisions.values())


def random_rates(spec, seed):
    rng = np.random.default_rng(seed)
    rates = {}
    for site in spec.sites:
        r = np.full(site.width, 0.5)
        r[rng.permutation(site.width)[: rng.integers(1, site.width)]] = 1.0
        r[rng.permutation(site.width)[:1]] = 0.0  # a dead neuron, sometimes
        rates[site.name] = r
    return rates


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_long_chain_is_solved_exactly_by_its_runs(seed):
    widths = [12, 16, 8, 20, 12, 16, 8, 12, 20, 8, 16, 12, 4, 3]
    spec = chains_spec(("a", widths))
    assert layout_lib.chain_order(spec, [s.name for s in spec.sites])
    assert len(spec.sites) > selection.EXHAUSTIVE_LIMIT
    rates = random_rates(spec, seed)
    plan = plan_lib.make_plan(spec, rates)
    assert plan.options["site_search"] == "exact"
    assert plan.params == every_subset_minimum(spec, rates)


def test_sites_with_two_consumers_are_not_a_chain():
    spec = ladder_spec(12)
    keys = [s.name for s in spec.sites]
    assert layout_lib.chain_order(spec, keys) is None
    assert layout_lib.site_groups(spec, keys) == [keys]


def ladder_spec(n, width=6):
    """A chain d0 -> d1 -> ... whose every activation also feeds a side
    layer e{i}: each site has two consumers."""
    linears, sites = {}, []
    source = "x"
    for i in range(n + 1):
        linears[f"d{i}"] = LinearSpec(f"d{i}", source, width, width, True)
        source = f"d{i}"
    for i in range(n):
        linears[f"e{i}"] = LinearSpec(f"e{i}", f"d{i}", width, 2, True)
        sites.append(SiteSpec(f"d{i}", f"d{i}", (f"d{i + 1}", f"e{i}"), width))
    total = sum(lin.params for lin in linears.values())
    return GraphSpec(linears, tuple(sites), (), total)


def test_a_large_group_that_is_no_chain_is_searched_locally_and_says_so():
    spec = ladder_spec(12)
    rates = {s.name: np.ones(s.width) for s in spec.sites}
    plan = plan_lib.make_plan(spec, rates)
    assert plan.options["site_search"] == "local"
