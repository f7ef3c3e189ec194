"""Metric guard: the smallest model whose metric drops by at most a margin.

Each candidate costs a rebuild and an evaluation, so the distinct
thresholds (`targets.candidate_thresholds`) are bisected rather than all
tried: the search assumes that the metric does not get better as the
threshold drops. Every evaluated candidate that meets the guard is kept and
the smallest of them wins, so the result always meets the guard even where
that assumption fails; it may then not be the smallest such model.
"""

from keras_linprune import evaluation
from keras_linprune import plan as plan_lib
from keras_linprune import targets


def guarded_plan(spec, rates, build, max_drop, metric, baseline, **options):
    """Bisects the thresholds for the smallest plan within `max_drop`.

    Args:
        spec, rates: As for `plan.make_plan`.
        build: `build(plan) -> value of metric` (rebuilds and evaluates).
        max_drop: Largest allowed worsening of the metric (absolute).
        metric: Metric name (decides whether lower is better).
        baseline: The original model's metric value.
        **options: Other `plan.make_plan` options (no `threshold`).

    Returns:
        `(plan, value, evaluations)`.
    """
    lower = evaluation.lower_is_better(metric)

    def ok(value):
        drop = value - baseline if lower else baseline - value
        return drop <= max_drop

    candidates = targets.candidate_thresholds(spec, rates)
    tried = {}

    def probe(i):
        if i not in tried:
            plan = plan_lib.make_plan(spec, rates, threshold=candidates[i],
                                      **options)
            tried[i] = (plan, build(plan))
        return tried[i]

    lo, hi = 0, len(candidates) - 1  # candidates[lo] assumed to pass
    if ok(probe(hi)[1]):
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(probe(mid)[1]):
            lo = mid
        else:
            hi = mid
    probe(lo)
    passing = [(p.params, i) for i, (p, v) in tried.items() if ok(v)]
    if not passing:  # even threshold 1.0 changes the held-out metric
        plan, value = tried[0]
        return plan, value, len(tried)
    _, best = min(passing)
    plan, value = tried[best]
    return plan, value, len(tried)
