"""Choosing which sites fold: subset search over exact parameter counts.

Pure combinatorics: every function takes the candidate site keys and a
`count(subset)` function (the exact parameter count of the rebuilt model
when exactly the sites in `subset` fold; see `plan.make_plan`), so the
searches are independent of how counting works.

Example:

>>> cost = {frozenset(): 10, frozenset({"a"}): 8, frozenset({"b"}): 9,
...         frozenset({"a", "b"}): 6}
>>> sorted(optimal(["a", "b"], lambda s: cost[frozenset(s)]))
['a', 'b']
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Sequence

#: `count(subset)`: the cost of folding exactly the sites in `subset`.
Count = Callable[[Collection[str]], float]

#: Largest group of interacting candidate sites searched exhaustively
#: (2**10 subsets, ~60 ms on a 12-layer MLP; 2**12 took 0.34 s per plan, too
#: slow inside a size-target scan); above it, `optimal` improves the
#: in-order result by local search.
EXHAUSTIVE_LIMIT = 10


def sequential(candidates: Iterable[str], count: Count) -> set[str]:
    """Each site in graph order folds if that lowers the count, given the
    decisions before it (later sites not folded)."""
    chosen: set[str] = set()
    for site in candidates:
        if count(chosen | {site}) < count(chosen):
            chosen.add(site)
    return chosen


def greedy(candidates: Iterable[str], count: Count) -> set[str]:
    """The prototype's `seq_compression`: repeatedly fold the site with the
    largest saving given the sites folded so far, while any saving > 0."""
    chosen: set[str] = set()
    while True:
        current = count(chosen)
        best: str | None = None
        best_saving: float = 0
        for site in candidates:
            if site in chosen:
                continue
            saving = current - count(chosen | {site})
            if saving > best_saving:
                best, best_saving = site, saving
        if best is None:
            return chosen
        chosen.add(best)


def optimal(
    candidates: Iterable[str],
    count: Count,
    groups: Iterable[Iterable[str]] | None = None,
) -> set[str]:
    """The subset with the smallest exact count (fewest sites on ties).

    Args:
        candidates: Site keys.
        count: `count(subset)`.
        groups: A partition of `candidates` into independent groups (the
            count is a constant plus one term per group, each depending
            only on that group's sites: `layout.site_groups`). Each group
            is optimised on its own with the other groups unfolded, and the
            union is the optimum of the whole. Default: one group.

    Each group is searched exhaustively up to `EXHAUSTIVE_LIMIT` sites;
    above it, from `sequential` by toggling single sites while that lowers
    the count (a local optimum; `is_exact` says which).
    """
    candidates = list(candidates)
    chosen = set()
    for group in groups if groups is not None else [candidates]:
        chosen |= _optimal_group(list(group), count)
    return chosen


def is_exact(groups: Iterable[Sequence[str]]) -> bool:
    """Whether `optimal` over these groups is the exact optimum."""
    return all(len(g) <= EXHAUSTIVE_LIMIT for g in groups)


class Search:
    """The optimal subset of sites, group by group.

    Args:
        count: `count(subset)`: the cost.
        groups: Independent groups of sites (`layout.site_groups`) that are
            not chains: `optimal`'s exhaustive or local search.
        chains: Independent groups that are chains, in chain order
            (`layout.chain_order`): `chain_optimal`, exact at any length.
    """

    def __init__(
        self, count: Count, groups: list[list[str]], chains: list[list[str]]
    ) -> None:
        self.count = count
        self.groups = groups
        self.chains = chains

    def optimal(self) -> set[str]:
        chosen = optimal([k for g in self.groups for k in g], self.count, self.groups)
        for chain in self.chains:
            chosen |= chain_optimal(chain, self.count)
        return chosen

    def is_exact(self) -> bool:
        return is_exact(self.groups)


def chain_optimal(chain: Sequence[str], count: Count) -> set[str]:
    """The exact optimum over the subsets of a chain of sites, by dynamic
    programming over runs of consecutive folded sites.

    Folds in a chain interact only within a run (`layout.chain_order`), so
    a subset's cost is the unfolded cost plus, per run, what folding that
    run alone changes. The program keeps, after each site, the cheapest
    choice over the sites before it (fewest sites on ties): `len(chain) **
    2 / 2` counts instead of `2 ** len(chain)`.

    Args:
        chain: Site keys in chain order.
        count: `count(subset)`.

    Returns:
        The set of keys to fold.
    """
    base = count(frozenset())
    n = len(chain)
    # best[p]: (cost change, sites, chosen) over chain[:p], where
    # chain[p - 1] is unfolded (or p is 0 or n).
    best: list[tuple | None] = [None] * (n + 1)
    best[0] = (0, 0, ())
    for p in range(n):
        here = best[p]
        if here is None:
            continue
        cost, sites, chosen = here
        _keep_best(best, p + 1, here)  # chain[p] unfolded
        for end in range(p + 1, n + 1):  # the run chain[p:end], then one unfolded
            run = tuple(chain[p:end])
            change = count(frozenset(run)) - base
            _keep_best(
                best, min(end + 1, n), (cost + change, sites + len(run), chosen + run)
            )
    last = best[n]
    return set(last[2]) if last else set()


def _keep_best(best, position, value):
    if best[position] is None or value[:2] < best[position][:2]:
        best[position] = value


def _optimal_group(candidates, count):
    if len(candidates) <= EXHAUSTIVE_LIMIT:
        best, best_key = set(), None
        for mask in itertools.product((False, True), repeat=len(candidates)):
            subset = {s for s, m in zip(candidates, mask) if m}
            key = (count(subset), len(subset))
            if best_key is None or key < best_key:
                best, best_key = subset, key
        return best
    chosen = sequential(candidates, count)
    improved = True
    while improved:
        improved = False
        for site in candidates:
            toggled = chosen ^ {site}
            if count(toggled) < count(chosen):
                chosen, improved = toggled, True
    return chosen


def memoized(count: Count) -> Count:
    """Caches `count` by subset."""
    cache = {}

    def cached(subset):
        key = frozenset(subset)
        if key not in cache:
            cache[key] = count(key)
        return cache[key]

    return cached
