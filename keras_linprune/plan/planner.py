"""Which sites fold: the search over site subsets (pure NumPy).

A `Planner` turns activation rates into one `SiteDecision` per site
(`decisions.py`) and chooses which sites' linear neurons fold under the
site rule (`layer_threshold`): the exact cost of every candidate subset
comes from `layout.py` without computing any weights (the count only
depends on which sources feed which linear node), which keeps it cheap
enough to evaluate many subsets, and `selection.py` searches them.

Example:

>>> import numpy as np
>>> from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
>>> spec = GraphSpec(
...     linears={
...         "d1": LinearSpec("d1", "x", 2, 8, True),
...         "d2": LinearSpec("d2", "d1", 8, 1, True),
...     },
...     sites=(SiteSpec("d1", "d1", ("d2",), 8),),
...     rejected=(),
...     total_params=33,
... )
>>> p = make_plan(spec, {"d1": np.ones(8)}, threshold=1.0)
>>> p.params, p.decisions["d1"].folded
(3, True)
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np

from keras_linprune.core.spec import GraphSpec
from keras_linprune.plan import costs, selection
from keras_linprune.plan.decisions import (
    Plan,
    SiteDecision,
    base_decision,
    piece_rates,
    site_facts,
    with_linear,
)
from keras_linprune.plan.layout import (
    Rates,
    chain_order,
    layout_of,
    removal_savings,
    site_groups,
    total_macs,
    total_params,
)


def make_plan(
    spec: GraphSpec, rates: Rates, *, threshold: float = 1.0, **options: Any
) -> Plan:
    """Decides every site and counts the parameters of the result.

    Args:
        spec: `GraphSpec` of the model.
        rates: Mapping from site key to per-piece rates, shape
            `(pieces, width)` (1-D: identity-piece rates of a ReLU site).
        threshold: A neuron is linear when its rate is `>= threshold`.
        **options: Those of `Planner`.

    Returns:
        A `Plan`. Options are assumed validated (see `options.py`).
    """
    return Planner(spec, rates, **options).plan(threshold)


class Planner:
    """Plans of one model's statistics at any threshold.

    Threshold searches (size targets, the metric guard, the prototype's
    step search) plan at many thresholds; between two neighbouring ones
    usually one site's linear set changes. A planner computes each site's
    decisions once per distinct linear set, and each subset's cost once
    per distinct combination of decision *sizes* (all a cost depends on).

    Args:
        spec: `GraphSpec` of the model.
        rates: As in `make_plan`.
        layer_threshold: Which sites fold: an int `n`, those with more
            than `n` linear neurons; a float `f`, those with more than that
            fraction; `"optimal"` (or `"best"`), the subset of sites whose
            folding gives the smallest exact parameter count of the rebuilt
            graph (a site's saving depends on its neighbours' folds);
            `"greedy"`, the prototype's order (repeatedly the site with the
            largest saving); `"sequential"`, each site in graph order if it
            lowers the count given the decisions before it. No rule
            refuses a fold for the layers it adds: under `"params"` and
            `"macs"` layers cost nothing, under `"latency"` the latency
            model prices them.
        remove_dead: Remove neurons that sit in a constant piece on all
            data (dead ReLU neurons, saturated ReLU6 ones) outright.
        remove_inactive: Also remove neurons that sit in such a piece on
            at least `threshold` of the data (rarely active ReLU neurons),
            where that beats their best sloped piece: importance pruning
            by activation rate, in the same plan as the folds.
        shortcut: `"auto"` stores a shortcut as two layers through `r`
            channels whenever that is smaller than the full matrix (`r`: a
            bound on its rank, at most the number of neurons folded into
            it); `"dense"` keeps full matrices.
        objective: What the site rules minimise: `"params"`, `"macs"`
            (needs `spec.total_macs`) or `"latency"` (needs `latency`).
        latency: The `costs.LatencyModel` of `objective="latency"`.
    """

    def __init__(
        self,
        spec: GraphSpec,
        rates: Rates,
        *,
        layer_threshold: str | int | float = "optimal",
        remove_dead: bool = True,
        remove_inactive: bool = False,
        shortcut: str = "auto",
        objective: str = "params",
        latency: costs.LatencyModel | None = None,
    ) -> None:
        self.spec = spec
        self.rates = {s.name: piece_rates(s, rates[s.name]) for s in spec.sites}
        self.options: dict[str, Any] = dict(
            layer_threshold=layer_threshold,
            remove_dead=remove_dead,
            remove_inactive=remove_inactive,
            shortcut=shortcut,
            objective=objective,
        )
        self.latency = latency
        self.cost = costs.cost_function(objective, latency)
        # Per site, what its decisions read of the rates at any threshold,
        # and its best sloped-piece rates sorted (a threshold's linear set is
        # those at or above it, so its size identifies it).
        self._facts = {
            s.name: site_facts(s, self.rates[s.name], remove_dead, remove_inactive)
            for s in spec.sites
        }
        self._sorted_best = {k: np.sort(f.best_rate) for k, f in self._facts.items()}
        self._site_cache: dict[tuple[str, int, int], tuple[SiteDecision, Any]] = {}
        self._cost_cache: dict[tuple, float] = {}
        self._unfolded: int | None = None
        self._foldable: list[tuple[int, np.ndarray, np.ndarray]] | None = None

    def plan(self, threshold: float, inactive_threshold: float | None = None) -> Plan:
        """The `Plan` at `threshold`; with `remove_inactive`, neurons in a
        constant piece on at least `inactive_threshold` of the rows
        (default: `threshold`; above 1, none) are removed."""
        base, folded = self._site_decisions(threshold, inactive_threshold)

        def count(subset):
            return self._cost({**base, **{k: folded[k] for k in subset}})

        count = selection.memoized(count)
        rule = self.options["layer_threshold"]
        groups: list[list[str]] = []
        chains: list[list[str]] = []
        for group in site_groups(self.spec, folded):
            order = chain_order(self.spec, group)
            (chains if order else groups).append(order or group)
        search = selection.Search(count, groups, chains)
        chosen = _choose(self.spec, base, list(folded), rule, search)
        decisions = {}
        for site in self.spec.sites:
            key = site.name
            if key in chosen:
                decisions[key] = folded[key]
            elif key in folded:
                why = _why_not(
                    site, base[key], rule, count, chosen, self.options["objective"]
                )
                decisions[key] = dataclasses.replace(base[key], reason=why)
            else:
                decisions[key] = base[key]
        site_search = None
        if rule in ("optimal", "best"):
            site_search = "exact" if search.is_exact() else "local"
        return self._plan_of(decisions, threshold, inactive_threshold, site_search)

    def params_floor(
        self, threshold: float, inactive_threshold: float | None = None
    ) -> int:
        """A lower bound on the parameters of any plan at `threshold` (and
        `inactive_threshold`, as in `plan`): the unfolded plan's, less the
        largest saving of every neuron that may leave the producer there
        (`layout.removal_savings`; counting a kept neuron that cannot fold
        only lowers the bound)."""
        if inactive_threshold is None:
            inactive_threshold = threshold
        if self._foldable is None:
            base, _ = self._site_decisions(1.0)
            savings = removal_savings(self.spec)
            self._foldable = []
            for s in self.spec.sites:
                facts, kept = self._facts[s.name], base[s.name].keep
                # -1: a neuron that never folds (the site's folds are blocked)
                folds = -1.0 if s.linear_block else facts.best_rate[kept]
                folds = np.broadcast_to(folds, kept.shape)
                self._foldable.append(
                    (savings[s.name], folds, facts.inactive_rate[kept])
                )
        leaving = sum(
            saving
            * np.count_nonzero((folds >= threshold) | (inactive >= inactive_threshold))
            for saving, folds, inactive in self._foldable
        )
        return self._unfolded_params() - leaving

    def _unfolded_params(self):
        """Parameters of the plan with no site folded (dead neurons removed
        as the options say; the same at any threshold)."""
        if self._unfolded is None:
            base, _ = self._site_decisions(1.0)
            layout = layout_of(self.spec, base, self.options["shortcut"])
            self._unfolded = total_params(self.spec, base, layout)
        return self._unfolded

    def _site_decisions(self, threshold, inactive_threshold=None):
        """`(base, folded)` decisions of every site at `threshold` (folded
        only for sites with candidates), cached by linear and inactive
        set."""
        if inactive_threshold is None:
            inactive_threshold = threshold
        base, folded = {}, {}
        for site in self.spec.sites:
            best = self._sorted_best[site.name]
            inactive = self._facts[site.name].sorted_inactive
            key = (
                site.name,
                best.size - np.searchsorted(best, threshold),
                inactive.size - np.searchsorted(inactive, inactive_threshold),
            )
            if key not in self._site_cache:
                facts = self._facts[site.name]
                b = base_decision(site, facts, threshold, inactive_threshold)
                f = with_linear(facts, b, threshold) if b.candidates else None
                self._site_cache[key] = (b, f)
            base[site.name], f = self._site_cache[key]
            if f is not None:
                folded[site.name] = f
        return base, folded

    def _cost(self, chosen):
        """The objective's cost of these decisions, cached by the
        decisions' sizes (`layout` and the costs read nothing else)."""
        key = tuple(chosen[s.name].size_signature for s in self.spec.sites)
        if key not in self._cost_cache:
            layout = layout_of(self.spec, chosen, self.options["shortcut"])
            self._cost_cache[key] = self.cost(self.spec, chosen, layout)
        return self._cost_cache[key]

    def _plan_of(self, decisions, threshold, inactive_threshold, site_search):
        layout = layout_of(self.spec, decisions, self.options["shortcut"])
        options = dict(threshold=threshold, **self.options)
        if inactive_threshold is not None and self.options["remove_inactive"]:
            options["inactive_threshold"] = inactive_threshold
        if site_search is not None:
            # "local" when a group of interacting sites that is no chain was
            # too large to search exhaustively (`selection.EXHAUSTIVE_LIMIT`).
            options["site_search"] = site_search
        if self.latency is not None:
            options["latency_model"] = dataclasses.asdict(self.latency)
        return Plan(
            self.spec,
            decisions,
            layout,
            total_params(self.spec, decisions, layout),
            options,
            total_macs(self.spec, decisions, layout),
        )


def _choose(spec, base, candidates, rule, search):
    """The set of site keys whose linear neurons fold under `rule`
    (`search`: a `selection.Search` over the candidates)."""
    if rule in ("optimal", "best"):
        return search.optimal()
    if isinstance(rule, str):
        pick = {"greedy": selection.greedy, "sequential": selection.sequential}
        return set(pick[rule](candidates, search.count))
    widths = {s.name: s.width for s in spec.sites}
    if isinstance(rule, numbers.Integral):
        return {k for k in candidates if base[k].candidates > rule}
    return {k for k in candidates if base[k].candidates / widths[k] > rule}


def _why_not(site, base, rule, count, chosen, objective="params"):
    """Why `site`'s linear neurons stay, in a user's words, with the option
    that would change it."""
    n = base.candidates
    neurons = _neurons(n)
    if isinstance(rule, str):
        delta = count(chosen | {site.name}) - count(chosen)
        measure = costs.OBJECTIVES[objective]
        if isinstance(delta, float):
            change = f"{abs(delta):.3g}"
        else:
            change = f"{abs(delta):,d}"
        if delta < 0:  # decided before other folds made it pay (greedy, ...)
            return (
                f"not chosen by layer_threshold={rule!r}: folding its {neurons} "
                f"would lower the {measure} by {change} given the other folds; "
                "layer_threshold='optimal' finds it"
            )
        effect = f"add {change} to" if delta > 0 else "not lower"
        return (
            f"no saving: folding its {neurons} would {effect} the {measure} "
            "(the shortcut costs more than the neurons); layer_threshold=0 "
            "folds it anyway"
        )
    if isinstance(rule, numbers.Integral):
        return (
            f"below layer threshold: {neurons}, more than {rule} needed; "
            "a lower layer_threshold folds it"
        )
    fraction = n / site.width
    return (
        f"below layer threshold: {n}/{site.width} = {fraction:.3g} linear, more "
        f"than {rule:g} needed; a lower layer_threshold folds it"
    )


def _neurons(n):
    """`"1 linear neuron"`, `"3 linear neurons"`."""
    return f"{n} linear neuron" + ("" if n == 1 else "s")
