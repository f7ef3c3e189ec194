"""Which neurons fold where, with the exact parameter count (pure NumPy).

The planner turns activation rates into one `SiteDecision` per site and
counts the parameters of the graph that `rebuild` will emit, without
computing any weights: the count only depends on which sources feed which
linear node (docs/method.md, sections 2-6). That keeps it cheap enough to evaluate
many candidate plans, e.g. for `layer_threshold="optimal"`.

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

import dataclasses
import math
import numbers

import numpy as np

from keras_linprune.plan import costs, selection
from keras_linprune.plan.layout import (
    chain_order,
    layout_of,
    removal_savings,
    site_groups,
    total_macs,
    total_params,
)

#: String layer thresholds (rules over the exact parameter count):
#: "optimal" folds the subset of sites with the smallest count ("best" is an
#: alias, as in the prototype's notebooks); "greedy" is the prototype's
#: `seq_compression` order; "sequential" decides sites in graph order.
LAYER_THRESHOLD_STRINGS = ("optimal", "best", "greedy", "sequential")


@dataclasses.dataclass(frozen=True)
class SiteDecision:
    """What happens to the neurons of one site.

    Attributes:
        site: Site key.
        linear: Indices folded into shortcuts (empty if the site is not
            folded), with their piece's `slope` and `offset` (arrays).
        constant: Indices removed as constants (dead ReLU neurons, saturated
            ReLU6 ones, ...), with their constant output `value` (array).
        keep: Indices that stay in the producer.
        candidates: Number of neurons whose rate reaches the threshold,
            before the layer-threshold decision.
        folded: Whether the linear neurons were folded.
        reason: Why they were not folded (empty when folded).
    """

    site: str
    linear: np.ndarray
    slope: np.ndarray
    offset: np.ndarray
    constant: np.ndarray
    value: np.ndarray
    keep: np.ndarray
    candidates: int
    folded: bool
    reason: str = ""

    def __post_init__(self):
        # Read by every parameter count; computed once.
        object.__setattr__(self, "moves_offset", bool(np.any(self.offset)))
        object.__setattr__(self, "moves_value", bool(np.any(self.value)))
        # What a parameter, MAC or layer count reads of the decision.
        signature = (
            self.keep.size,
            self.linear.size,
            self.constant.size > 0,
            self.moves_offset,
            self.moves_value,
        )
        object.__setattr__(self, "size_signature", signature)

    @property
    def dead(self):
        """Constant neurons whose output is 0."""
        return self.constant[self.value == 0]

    def fold_arguments(self):
        """Keyword arguments of `algebra.fold_site` for this decision."""
        return dict(
            keep=self.keep,
            linear=self.linear,
            slope=self.slope,
            offset=self.offset,
            constant=self.constant,
            value=self.value,
        )


@dataclasses.dataclass(frozen=True)
class Plan:
    """A complete compression plan.

    Attributes:
        spec: The `GraphSpec` it was made for.
        decisions: Mapping from site key to `SiteDecision`, in site order.
        layout: Mapping from linear-node name to `NodeLayout`.
        params: Exact `count_params()` of the rebuilt model.
        options: The options the plan was made with.
        macs: Multiply-accumulates per example of the rebuilt model's
            kernels (`layout.total_macs`), or `None` when unknown.
    """

    spec: object
    decisions: dict
    layout: dict
    params: int
    options: dict
    macs: int = None

    @property
    def params_before(self):
        return self.spec.total_params


#: Shortcut forms: "auto" picks, per term, the cheaper of a full matrix and
#: an exact rank-r factorization; "dense" always uses the full matrix (the
#: paper's form, for parity with the prototype).
SHORTCUT_FORMS = ("auto", "dense")

#: What `layer_threshold="optimal"` (and the other site rules) minimise
#: (`plan.costs`).
OBJECTIVES = tuple(costs.OBJECTIVES)


def make_plan(spec, rates, *, threshold=1.0, **options):
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
            lowers the count given the decisions before it. Every rule but
            the numeric ones keeps plans within the layer budget
            (`costs.layers_over_budget`).
        remove_dead: Remove neurons that sit in a constant piece on all
            data (dead ReLU neurons, saturated ReLU6 ones) outright.
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
        spec,
        rates,
        *,
        layer_threshold="optimal",
        remove_dead=True,
        shortcut="auto",
        objective="params",
        latency=None,
    ):
        self.spec = spec
        self.rates = {s.name: piece_rates(s, rates[s.name]) for s in spec.sites}
        self.options = dict(
            layer_threshold=layer_threshold,
            remove_dead=remove_dead,
            shortcut=shortcut,
            objective=objective,
        )
        self.latency = latency
        self.cost = costs.cost_function(objective, latency)
        # Per site, what its decisions read of the rates at any threshold,
        # and its best sloped-piece rates sorted (a threshold's linear set is
        # those at or above it, so its size identifies it).
        self._facts = {
            s.name: _site_facts(s, self.rates[s.name], remove_dead) for s in spec.sites
        }
        self._sorted_best = {k: np.sort(f.best_rate) for k, f in self._facts.items()}
        self._site_cache = {}
        self._cost_cache = {}
        self._unfolded = None
        self._foldable = None

    def plan(self, threshold):
        """The `Plan` at `threshold`."""
        base, folded = self._site_decisions(threshold)

        def evaluate(subset):
            return self._evaluate({**base, **{k: folded[k] for k in subset}}, subset)

        def count(subset):
            value, excess = evaluate(subset)
            return value if excess <= 0 else math.inf

        count = selection.memoized(count)
        rule = self.options["layer_threshold"]
        groups, chains = [], []
        for group in site_groups(self.spec, folded):
            order = chain_order(self.spec, group)
            (chains if order else groups).append(order or group)
        search = selection.Search(count, evaluate, groups, chains)
        chosen = _choose(self.spec, base, list(folded), rule, search)
        decisions = {}
        for site in self.spec.sites:
            key = site.name
            if key in chosen:
                decisions[key] = folded[key]
            elif key in folded:
                why = _why_not(
                    site, base[key], rule, evaluate, chosen, self.options["objective"]
                )
                decisions[key] = dataclasses.replace(base[key], reason=why)
            else:
                decisions[key] = base[key]
        site_search = None
        if rule in ("optimal", "best"):
            site_search = "exact" if search.is_exact() else "local"
        return self._plan_of(decisions, threshold, site_search)

    def params_floor(self, threshold):
        """A lower bound on the parameters of any plan at `threshold`:
        the unfolded plan's, less the largest saving of every neuron that
        may fold there (`layout.removal_savings`; counting a kept neuron
        that cannot fold only lowers the bound)."""
        if self._foldable is None:  # per site: saving, sorted rates of kept neurons
            base, _ = self._site_decisions(1.0)
            savings = removal_savings(self.spec)
            self._foldable = [
                (
                    savings[s.name],
                    np.sort(self._facts[s.name].best_rate[base[s.name].keep]),
                )
                for s in self.spec.sites
                if not s.linear_block
            ]
        _, unfolded = self._unfolded_plan()
        return unfolded - sum(
            saving * (rates.size - np.searchsorted(rates, threshold))
            for saving, rates in self._foldable
        )

    def _unfolded_plan(self):
        """`(layers, parameters)` of the plan with no site folded (dead
        neurons removed as the options say; the same at any threshold)."""
        if self._unfolded is None:
            base, _ = self._site_decisions(1.0)
            layout = layout_of(self.spec, base, self.options["shortcut"])
            self._unfolded = (
                costs.layer_count(self.spec, base, layout),
                total_params(self.spec, base, layout),
            )
        return self._unfolded

    def _site_decisions(self, threshold):
        """`(base, folded)` decisions of every site at `threshold` (folded
        only for sites with candidates), cached by linear set."""
        base, folded = {}, {}
        for site in self.spec.sites:
            best = self._sorted_best[site.name]
            key = (site.name, best.size - np.searchsorted(best, threshold))
            if key not in self._site_cache:
                facts = self._facts[site.name]
                b = _base_decision(site, facts, threshold)
                f = _with_linear(facts, b, threshold) if b.candidates else None
                self._site_cache[key] = (b, f)
            base[site.name], f = self._site_cache[key]
            if f is not None:
                folded[site.name] = f
        return base, folded

    def _evaluate(self, chosen, subset):
        """`(cost, layers over the budget)` of these decisions, cached by
        the decisions' sizes (`layout` and the costs read nothing else)."""
        key = tuple(chosen[s.name].size_signature for s in self.spec.sites)
        if key not in self._cost_cache:
            layout = layout_of(self.spec, chosen, self.options["shortcut"])
            unfolded_layers, _ = self._unfolded_plan()
            excess = costs.layers_over_budget(
                self.spec, chosen, layout, len(subset), unfolded_layers
            )
            self._cost_cache[key] = (self.cost(self.spec, chosen, layout), excess)
        return self._cost_cache[key]

    def _plan_of(self, decisions, threshold, site_search):
        layout = layout_of(self.spec, decisions, self.options["shortcut"])
        options = dict(threshold=threshold, **self.options)
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


def piece_rates(site, rates):
    """Rates as a `(pieces, width)` array.

    A 1-D array is accepted for a plain ReLU site: the rate of its identity
    piece, as in the prototype.
    """
    rates = np.asarray(rates, np.float64)
    if rates.ndim == 2:
        return rates
    pieces = site.activation.pieces
    if len(pieces) != 2 or site.activation.principal != 1:
        raise ValueError(
            f"Expected per-piece rates of shape ({len(pieces)}, {site.width}) "
            f"for site '{site.name}'. Received: shape {rates.shape}"
        )
    return np.stack([1.0 - rates, rates])


@dataclasses.dataclass(frozen=True)
class _SiteFacts:
    """What a site's decisions read of its rates, at any threshold.

    Attributes:
        constant: The constant neurons removed (all but one when every
            neuron is constant: each consumer keeps an input), and `value`
            their outputs.
        keep: The other neurons.
        best_rate: Per neuron, the highest rate of a sloped piece, and
            `slope` / `offset` of that piece.
        sorted_candidates: `best_rate` of the non-constant neurons, sorted
            (how many reach a threshold is one `searchsorted`).
    """

    constant: np.ndarray
    value: np.ndarray
    keep: np.ndarray
    best_rate: np.ndarray
    slope: np.ndarray
    offset: np.ndarray
    sorted_candidates: np.ndarray


def _site_facts(site, rates, remove_dead):
    pieces = site.activation.pieces
    is_constant = np.zeros(site.width, bool)
    value = np.zeros(site.width)
    if remove_dead:
        for i, piece in enumerate(pieces):
            if piece.is_constant and (site.nonzero_constants or piece.offset == 0):
                always = (rates[i] >= 1.0) & ~is_constant
                is_constant |= always
                value[always] = piece.offset
    constant = np.flatnonzero(is_constant)
    if constant.size == site.width:
        # Keep one neuron so every consumer still has an input; it outputs
        # its constant, so the result stays exact.
        constant = constant[1:]
    best_rate, best_piece = best_sloped_piece(pieces, rates)
    neurons = np.arange(site.width)
    slopes = np.stack(
        [
            np.broadcast_to(np.asarray(p.slope, np.float64), neurons.shape)
            for p in pieces
        ]
    )
    offsets = np.array([p.offset for p in pieces], np.float64)
    return _SiteFacts(
        constant,
        value[constant],
        np.flatnonzero(~np.isin(neurons, constant)),
        best_rate,
        slopes[best_piece, neurons],
        offsets[best_piece],
        np.sort(best_rate[~is_constant]),
    )


def _base_decision(site, facts, threshold):
    """Constant neurons removed, linear ones not (yet) folded."""
    candidates = int(
        facts.sorted_candidates.size
        - np.searchsorted(facts.sorted_candidates, threshold)
    )
    reason = "" if candidates else "no neuron reaches the threshold"
    if site.linear_block and candidates:
        reason, candidates = site.linear_block, 0
    empty = np.array([], np.int64)
    return SiteDecision(
        site.name,
        empty,
        np.zeros(0),
        np.zeros(0),
        facts.constant,
        facts.value,
        facts.keep,
        candidates,
        False,
        reason,
    )


def best_sloped_piece(pieces, rates):
    """Per neuron: the highest rate of a non-constant piece, and its index."""
    sloped = [i for i, p in enumerate(pieces) if not p.is_constant]
    sub = rates[sloped]
    best = np.argmax(sub, axis=0)
    return sub[best, np.arange(rates.shape[1])], np.asarray(sloped)[best]


def _with_linear(facts, base, threshold):
    """`base` with the neurons whose best sloped piece reaches `threshold`
    folded."""
    is_linear = facts.best_rate >= threshold
    is_linear[facts.constant] = False
    linear = np.flatnonzero(is_linear)
    return dataclasses.replace(
        base,
        linear=linear,
        slope=facts.slope[linear],
        offset=facts.offset[linear],
        keep=base.keep[~is_linear[base.keep]],
        folded=True,
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


def _why_not(site, base, rule, evaluate, chosen, objective="params"):
    n = base.candidates
    if isinstance(rule, str):
        after, excess = evaluate(chosen | {site.name})
        delta = after - evaluate(chosen)[0]
        fits = excess <= 0
        measure = costs.OBJECTIVES[objective]
        change = f"{delta:+.3g}" if isinstance(delta, float) else f"{delta:+,d}"
        if delta < 0 and not fits:
            return (
                f"adds layers: folding {n} neurons would change the {measure} "
                f"by {change} but emit two layers (a low-rank shortcut and a "
                "Concatenate) where one per fold is allowed"
            )
        return f"no saving: folding {n} neurons would change the {measure} by {change}"
    if isinstance(rule, numbers.Integral):
        return f"below layer threshold: {n} linear neurons, needs more than {rule}"
    fraction = n / site.width
    return (
        f"below layer threshold: {n}/{site.width} = {fraction:.3g} linear, "
        f"needs more than {rule:g}"
    )


def removal_plan(spec, remove, options=None):
    """A plan that only drops the given neurons (their output treated as 0).

    Used by activation-based importance pruning (`prune.py`): unlike a fold,
    removing a neuron that is sometimes active changes the model.

    Args:
        spec: `GraphSpec` of the model.
        remove: Mapping from site key to indices to drop. At least one
            neuron per site is kept.
        options: Recorded in the plan.
    """
    decisions = {}
    empty = np.array([], np.int64)
    for site in spec.sites:
        drop = np.unique(np.asarray(remove.get(site.name, empty), np.int64))
        if drop.size >= site.width:
            drop = drop[1:]
        keep = np.setdiff1d(np.arange(site.width), drop)
        decisions[site.name] = SiteDecision(
            site.name,
            empty,
            np.zeros(0),
            np.zeros(0),
            drop,
            np.zeros(drop.size),
            keep,
            0,
            False,
            "pruned by activation",
        )
    layout = layout_of(spec, decisions)
    return Plan(
        spec,
        decisions,
        layout,
        total_params(spec, decisions, layout),
        dict(options or {}),
        total_macs(spec, decisions, layout),
    )
