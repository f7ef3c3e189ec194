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

import itertools

#: Largest group of interacting candidate sites searched exhaustively
#: (2**10 subsets, ~60 ms on a 12-layer MLP; 2**12 took 0.34 s per plan, too
#: slow inside a size-target scan); above it, `optimal` improves the
#: in-order result by local search.
EXHAUSTIVE_LIMIT = 10


def sequential(candidates, count):
    """Each site in graph order folds if that lowers the count, given the
    decisions before it (later sites not folded)."""
    chosen = set()
    for site in candidates:
        if count(chosen | {site}) < count(chosen):
            chosen.add(site)
    return chosen


def greedy(candidates, count):
    """The prototype's `seq_compression`: repeatedly fold the site with the
    largest saving given the sites folded so far, while any saving > 0."""
    chosen = set()
    while True:
        current = count(chosen)
        best, best_saving = None, 0
        for site in candidates:
            if site in chosen:
                continue
            saving = current - count(chosen | {site})
            if saving > best_saving:
                best, best_saving = site, saving
        if best is None:
            return chosen
        chosen.add(best)


def optimal(candidates, count, groups=None):
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


def is_exact(groups):
    """Whether `optimal` over these groups is the exact optimum."""
    return all(len(g) <= EXHAUSTIVE_LIMIT for g in groups)


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


def memoized(count):
    """Caches `count` by subset."""
    cache = {}

    def cached(subset):
        key = frozenset(subset)
        if key not in cache:
            cache[key] = count(key)
        return cache[key]

    return cached
