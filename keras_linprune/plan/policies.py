"""Threshold policies: how the threshold of a plan is chosen.

Every policy has one method, `plan(spec, rates, **options) -> (Plan,
notes)`, where `options` are those of `planner.Planner`
(`layer_threshold`, `remove_dead`, `shortcut`) and `notes` go into the
report's `attrs`:

* `FixedThreshold`: the user's threshold (default 1.0, exact);
* `SizeTarget`: the highest threshold whose plan fits a parameter budget,
  searched exactly over the distinct activation rates;
* `StepSearch`: the prototype's `seq_fixed_size_compression`, without its
  defects;
* `MetricGuard`: the smallest plan whose metric drops by at most a margin
  (the caller supplies `score(plan)`, which rebuilds and evaluates).

Pure NumPy: no Keras model is built here.

Example:

>>> import numpy as np
>>> from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
>>> spec = GraphSpec({"d0": LinearSpec("d0", "x", 100, 64, True),
...                   "d1": LinearSpec("d1", "d0", 64, 50, True)},
...                  (SiteSpec("d0", "d0", ("d1",), 64),), (), 9714)
>>> rates = {"d0": np.linspace(0.5, 1.0, 64)}
>>> plan, notes = SizeTarget(params=6000).plan(spec, rates)
>>> plan.params <= 6000, plan.options["threshold"] < 1.0
(True, True)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from keras_linprune.core.spec import GraphSpec
from keras_linprune.plan import decisions as decisions_lib
from keras_linprune.plan import planner as planner_lib
from keras_linprune.plan.decisions import Plan
from keras_linprune.plan.layout import Rates


def candidate_thresholds(
    spec: GraphSpec, rates: Rates, remove_inactive: bool = False
) -> list[float]:
    """Distinct thresholds at which some site's linear set (or, with
    `remove_inactive`, its set of removed inactive neurons) changes,
    highest first (always starting at 1.0): the fold thresholds of
    `mix_points` along folding alone, or along removal at the fold
    threshold."""
    mix = 1.0 if remove_inactive else 0.0
    return [threshold for threshold, _ in mix_points(spec, rates, mix)]


@dataclasses.dataclass(frozen=True)
class FixedThreshold:
    """Neurons with a rate `>= threshold` are linear."""

    threshold: float = 1.0

    def plan(
        self, spec: GraphSpec, rates: Rates, **options: Any
    ) -> tuple[Plan, dict[str, Any]]:
        plan = planner_lib.make_plan(spec, rates, threshold=self.threshold, **options)
        return plan, {}


#: The mixes a size target compares with `remove_inactive="auto"`: along
#: mix `m`, a level `s` folds neurons linear on at least `1 - s` of the
#: rows and removes those inactive on at least `1 - m s` of them (0: none
#: removed as inactive, folding alone; `inf`: only exact folds, inactive
#: neurons removed: importance pruning by activation rate).
MIXES = (0.0, 0.5, 1.0, 2.0, math.inf)


@dataclasses.dataclass(frozen=True)
class SizeTarget:
    """The plan that fits a parameter budget, at most `params` parameters
    or at most `fraction` of the original (exactly one is given).

    Along each of `mixes` (see `MIXES`; the default folds alone, or with
    `remove_inactive` removes inactive neurons at the fold threshold), the
    least lossy plan that fits: the lowest level whose plan fits, searched
    exactly over the activation rates. With several mixes and a `score`
    (lower is better: the compressed model's output error on calibration
    data, or its metric on held-out data), the best-scoring of those plans
    wins; without a score, the first mix's.
    """

    params: int | None = None
    fraction: float | None = None
    mixes: tuple[float, ...] | None = None
    score: Callable[[Plan], float] | None = None

    def budget(self, spec: GraphSpec) -> int:
        if self.params is not None:
            return self.params
        if self.fraction is None:
            raise ValueError("Expected a SizeTarget of `params` or `fraction`")
        return int(self.fraction * spec.total_params)

    def notes(self) -> dict[str, Any]:
        if self.params is not None:
            return {"target_params": self.params}
        return {"target_size": self.fraction}

    def plan(
        self, spec: GraphSpec, rates: Rates, **options: Any
    ) -> tuple[Plan, dict[str, Any]]:
        """Raises `ValueError` if no plan meets the budget; the message
        gives the smallest size folding can reach."""
        planner = planner_lib.Planner(spec, rates, **options)
        return self.plan_with(planner, spec, rates)

    def plan_with(
        self, planner: planner_lib.Planner, spec: GraphSpec, rates: Rates
    ) -> tuple[Plan, dict[str, Any]]:
        """`plan` with this `planner` of `spec` and `rates`, whose caches
        (decisions per linear set, costs per size) serve every target a
        caller plans with it (`SizeGuard`)."""
        budget = self.budget(spec)
        remove_inactive = planner.options["remove_inactive"]
        mixes = self.mixes or ((1.0,) if remove_inactive else (0.0,))
        fitting = {}
        for mix in mixes:
            plan = _fitting_plan(planner, spec, rates, mix, budget)
            if plan is not None:
                fitting[mix] = plan
        if not fitting:
            raise _unreachable(planner, spec, rates, mixes, budget)
        notes = self.notes()
        if self.score is None:
            return next(iter(fitting.values())), notes
        scored: dict[tuple, float] = {}  # two mixes may give one plan
        for plan in fitting.values():
            if _identity(plan) not in scored:
                scored[_identity(plan)] = self.score(plan)
        scores = {mix: scored[_identity(plan)] for mix, plan in fitting.items()}
        best = min(scores, key=lambda m: (scores[m], fitting[m].params))
        notes["target_candidates"] = [
            dict(
                mix=mix,
                threshold=plan.options["threshold"],
                inactive_threshold=plan.options.get("inactive_threshold"),
                params=plan.params,
                score=scores[mix],
            )
            for mix, plan in fitting.items()
        ]
        notes["target_mix"] = best
        return fitting[best], notes


def _identity(plan):
    """What makes two plans the same model: every site's kept, folded and
    removed neurons."""
    return tuple(
        (key, d.keep.tobytes(), d.linear.tobytes(), d.constant.tobytes())
        for key, d in plan.decisions.items()
    )


def mix_points(spec: GraphSpec, rates: Rates, mix: float) -> list[tuple[float, float]]:
    """`(threshold, inactive_threshold)` of every level along `mix` at
    which a site's linear or inactive set can change, least lossy first
    (`inactive_threshold` above 1: nothing removed as inactive)."""
    points = {(1.0, _inactive_at(1.0, mix))}
    for site in spec.sites:
        r = decisions_lib.piece_rates(site, rates[site.name])
        if mix < math.inf:
            best, _ = decisions_lib.best_sloped_piece(site.activation.pieces, r)
            points.update((float(t), _inactive_at(t, mix)) for t in best[best > 0])
        if mix > 0:
            facts = decisions_lib.site_facts(site, r, True, True)
            for t in facts.sorted_inactive[facts.sorted_inactive > 0]:
                points.add((_fold_at(float(t), mix), float(t)))
    return sorted(points, key=lambda p: (-p[0], -p[1]) if mix < math.inf else -p[1])


def _inactive_at(threshold, mix):
    """The inactive threshold at the level of fold `threshold`."""
    if mix == 0:
        return math.inf
    if mix == 1 or threshold == 1.0:
        return threshold
    return max(0.0, 1.0 - mix * (1.0 - threshold))


def _fold_at(inactive, mix):
    """The fold threshold at the level of `inactive` threshold."""
    if mix == math.inf:
        return 1.0
    if mix == 1:
        return inactive
    return max(0.0, 1.0 - (1.0 - inactive) / mix)


def _fitting_plan(planner, spec, rates, mix, budget):
    """The least lossy plan along `mix` with at most `budget` parameters,
    or `None`. Levels whose plans cannot fit are skipped unplanned: at
    each, `Planner.params_floor` bounds every plan's size from below."""
    for threshold, inactive in mix_points(spec, rates, mix):
        if planner.params_floor(threshold, inactive) > budget:
            continue  # no plan at this level can fit
        plan = planner.plan(threshold, inactive)
        if plan.params <= budget:
            return plan
    return None


def _unreachable(planner, spec, rates, mixes, budget):
    smallest = min(
        (
            planner.plan(*point)
            for m in mixes
            for point in mix_points(spec, rates, m)[-1:]
        ),
        key=lambda p: p.params,
    )
    return ValueError(
        f"Expected a reachable size target. Received: target of "
        f"{budget:,} parameters, but the smallest model folding can "
        f"reach has {smallest.params:,} parameters "
        f"({smallest.params / spec.total_params:.1%} of the original, "
        f"at threshold {smallest.options['threshold']:.4g})"
    )


@dataclasses.dataclass(frozen=True)
class StepSearch:
    """The prototype's `seq_fixed_size_compression`, without its defects.

    Starts at threshold 1.0 and lowers it by `step` until the size counted
    *without the first layer* is at most `fraction` times the original's
    (the prototype's rule). Thresholds are `1 - k * step` computed exactly
    (no accumulated float error), never below 0, and an unreachable target
    raises instead of looping forever.
    """

    fraction: float
    step: float

    def plan(
        self, spec: GraphSpec, rates: Rates, **options: Any
    ) -> tuple[Plan, dict[str, Any]]:
        first = spec.sites[0].producer if spec.sites else None
        original = spec.total_params - (spec.linears[first].params if first else 0)
        k, smallest = 0, None
        planner = planner_lib.Planner(spec, rates, **options)
        while True:
            t = max(0.0, round(1.0 - k * self.step, 12))
            plan = planner.plan(t)
            counted = plan.params - (plan.layout[first].params if first else 0)
            if counted <= self.fraction * original:
                return plan, {"target_size": self.fraction, "target_step": self.step}
            if smallest is None or counted < smallest[0]:
                smallest = (counted, t)
            if t == 0.0:
                raise ValueError(
                    "Expected a reachable size target. Received: "
                    f"target_size={self.fraction}, but stepping the "
                    f"threshold by {self.step} reaches at best "
                    f"{smallest[0] / original:.1%} of the original size "
                    f"without the first layer (threshold {smallest[1]:.4g})"
                )
            k += 1


@dataclasses.dataclass(frozen=True)
class MetricGuard:
    """The smallest plan whose metric is worse than `baseline` by at most
    `max_drop`.

    Each candidate costs a rebuild and an evaluation (`score(plan)`), so
    the distinct thresholds are bisected rather than all tried: the search
    assumes that the metric does not get better as the threshold drops.
    Every evaluated candidate that meets the guard is kept and the smallest
    of them wins, so the result always meets the guard even where that
    assumption fails; it may then not be the smallest such model.

    Attributes:
        max_drop: Largest allowed worsening (absolute).
        metric: Metric name, for the report.
        lower_is_better: Whether smaller metric values are better.
        baseline: The original model's metric value.
        score: `score(plan) -> metric value` of the rebuilt model.
    """

    max_drop: float
    metric: str
    lower_is_better: bool
    baseline: float
    score: Callable[[Plan], float]

    def passes(self, value: float) -> bool:
        drop = value - self.baseline if self.lower_is_better else self.baseline - value
        return drop <= self.max_drop

    def plan(
        self, spec: GraphSpec, rates: Rates, **options: Any
    ) -> tuple[Plan, dict[str, Any]]:
        candidates = candidate_thresholds(
            spec, rates, options.get("remove_inactive", False)
        )
        planner = planner_lib.Planner(spec, rates, **options)
        tried = {}

        def probe(i):
            if i not in tried:
                plan = planner.plan(candidates[i])
                tried[i] = (plan, self.score(plan))
            return tried[i]

        lo, hi = 0, len(candidates) - 1  # candidates[lo] assumed to pass
        if self.passes(probe(hi)[1]):
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.passes(probe(mid)[1]):
                lo = mid
            else:
                hi = mid
        probe(lo)
        passing = [(p.params, i) for i, (p, v) in tried.items() if self.passes(v)]
        best = min(passing)[1] if passing else 0  # 0: even 1.0 fails
        plan, value = tried[best]
        return plan, dict(
            metric=self.metric,
            metric_before=self.baseline,
            metric_after=value,
            max_metric_drop=self.max_drop,
            guard_evaluations=len(tried),
        )


@dataclasses.dataclass(frozen=True)
class SizeGuard:
    """The smallest size target whose model is worse than the original by
    at most `guard.max_drop`: the metric guard over size budgets, for
    size targets that compare mixes.

    Bisects the budget (a fraction of the original's parameters) `steps`
    times; each probe is a `SizeTarget` comparing `mixes` by `score`, and
    its plan is judged by `guard.score` (the recovered model's metric).
    Like `MetricGuard`, it assumes the metric does not improve as the
    budget shrinks, keeps every probe that meets the guard and returns the
    smallest; when none does, the plan of budget 1.0 (the exact fold).
    """

    guard: MetricGuard
    mixes: tuple[float, ...]
    score: Callable[[Plan], float]
    steps: int = 8

    def plan(
        self, spec: GraphSpec, rates: Rates, **options: Any
    ) -> tuple[Plan, dict[str, Any]]:
        tried: dict[float, tuple[Plan, float, dict]] = {}
        planner = planner_lib.Planner(spec, rates, **options)  # for every probe

        def probe(fraction):
            target = SizeTarget(fraction=fraction, mixes=self.mixes, score=self.score)
            try:
                plan, notes = target.plan_with(planner, spec, rates)
            except ValueError:  # below what compression reaches
                return None
            tried[fraction] = (plan, self.guard.score(plan), notes)
            return tried[fraction]

        lo, hi = 0.0, 1.0  # hi: the smallest budget known to pass
        for _ in range(self.steps):
            mid = (lo + hi) / 2
            result = probe(mid)
            if result is not None and self.guard.passes(result[1]):
                hi = mid
            else:
                lo = mid
        passing = [
            (p.params, f) for f, (p, v, _) in tried.items() if self.guard.passes(v)
        ]
        if passing:
            plan, value, notes = tried[min(passing)[1]]
        else:
            plan, value, notes = probe(1.0)
        return plan, dict(
            notes,
            metric=self.guard.metric,
            metric_before=self.guard.baseline,
            metric_after=value,
            max_metric_drop=self.guard.max_drop,
            guard_evaluations=len(tried),
        )
