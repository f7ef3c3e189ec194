"""Site-subset searches on hand-written costs (no model needed)."""

import itertools

import pytest

from keras_linprune.plan import selection

#: Saving of folding each site alone, and extra saving when a pair folds.
ALONE = {"a": -5, "b": -3, "c": 2, "d": -1}
PAIRS = {frozenset("ab"): 4, frozenset("bd"): -6}


def count(subset):
    subset = set(subset)
    pairs = sum(v for k, v in PAIRS.items() if k <= subset)
    return 100 + sum(ALONE[s] for s in subset) + pairs


def brute_force(candidates):
    subsets = [
        set(c)
        for r in range(len(candidates) + 1)
        for c in itertools.combinations(candidates, r)
    ]
    return min(subsets, key=lambda s: (count(s), len(s)))


def test_optimal_is_the_best_subset():
    assert selection.optimal("abcd", count) == brute_force("abcd") == {"a", "b", "d"}


def test_sequential_decides_in_order_and_greedy_by_largest_saving():
    # a (-5), then b (-3 + 4 with a: +1, refused), c (+2, refused), d (-1).
    assert selection.sequential("abcd", count) == {"a", "d"}
    # a (-5) first, then d (-1); b with a and d: -3 + 4 - 6 = -5, taken.
    assert selection.greedy("abcd", count) == {"a", "b", "d"}


def test_independent_groups_are_searched_alone():
    def separable(subset):
        return 100 + sum(ALONE[s] for s in subset)

    assert selection.optimal("abcd", separable, groups=[["a", "c"], ["b", "d"]]) == {
        "a",
        "b",
        "d",
    }
    assert selection.is_exact([list("abc")])
    assert not selection.is_exact([list(range(selection.EXHAUSTIVE_LIMIT + 1))])


def test_memoized_counts_each_subset_once():
    calls = []

    def counted(subset):
        calls.append(frozenset(subset))
        return len(subset)

    cached = selection.memoized(counted)
    assert cached({"a"}) == cached(["a"]) == 1
    assert calls == [frozenset("a")]


@pytest.mark.parametrize("seed", range(5))
def test_chain_optimum_equals_brute_force(seed):
    import random

    rng = random.Random(seed)
    chain = list("pqrst")
    alone = {s: rng.randint(-6, 4) for s in chain}
    runs = {(a, b): rng.randint(-4, 4) for a, b in zip(chain, chain[1:])}

    def count(subset):
        s = set(subset)
        pairs = sum(v for (a, b), v in runs.items() if a in s and b in s)
        return 50 + sum(alone[x] for x in s) + pairs

    best = min(
        (
            set(c)
            for r in range(len(chain) + 1)
            for c in itertools.combinations(chain, r)
        ),
        key=lambda s: (count(s), len(s)),
    )
    assert count(selection.chain_optimal(chain, count)) == count(best)
