"""Per-site decisions and the plan they make (pure NumPy).

A `SiteDecision` says, for one fold site, which neurons are removed as
constant, which fold into shortcuts and which are kept; a `Plan` is one
decision per site with the exact parameter (and multiply-accumulate)
count of the graph `rebuild` will emit, computed from structure alone
(docs/method.md, sections 2-6). This module computes a site's decisions
from __future__ import annotations

from its activation rates at a threshold; `planner.py` chooses which
sites fold, searching over them.
"""

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from keras_linprune.core.pieces import Piece
from keras_linprune.core.spec import GraphSpec, SiteSpec
from keras_linprune.plan import costs
from keras_linprune.plan.layout import (
    NodeLayout,
    layout_of,
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

    # Read by every parameter count: computed once per decision (a frozen
    # dataclass's cached_property stores into the instance's __dict__).
    @functools.cached_property
    def moves_offset(self) -> bool:
        """Whether a folded neuron's piece has a non-zero offset."""
        return bool(np.any(self.offset))

    @functools.cached_property
    def moves_value(self) -> bool:
        """Whether a constant neuron has a non-zero value."""
        return bool(np.any(self.value))

    @functools.cached_property
    def size_signature(self) -> tuple[int, int, bool, bool, bool]:
        """What a parameter, MAC or layer count reads of the decision."""
        return (
            self.keep.size,
            self.linear.size,
            self.constant.size > 0,
            self.moves_offset,
            self.moves_value,
        )

    @property
    def dead(self) -> np.ndarray:
        """Constant neurons whose output is 0."""
        return self.constant[self.value == 0]

    def fold_arguments(self) -> dict[str, Any]:
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

    spec: GraphSpec
    decisions: dict[str, SiteDecision]
    layout: dict[str, NodeLayout]
    params: int
    options: dict[str, Any]
    macs: int | None = None

    @property
    def params_before(self) -> int:
        return self.spec.total_params


#: Shortcut forms: "auto" picks, per term, the cheaper of a full matrix and
#: an exact rank-r factorization; "dense" always uses the full matrix (the
#: paper's form, for parity with the prototype).
SHORTCUT_FORMS = ("auto", "dense")

#: What `layer_threshold="optimal"` (and the other site rules) minimise
#: (`plan.costs`).
OBJECTIVES = tuple(costs.OBJECTIVES)


def piece_rates(site: SiteSpec, rates: ArrayLike) -> np.ndarray:
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
class SiteFacts:
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
        inactive_rate: With `remove_inactive`, per neuron the highest rate
            of a constant piece it may be removed in (a ReLU's off piece),
            and `inactive_value` that piece's output; zeros otherwise.
        sorted_inactive: `inactive_rate` of the non-constant neurons where
            it beats `best_rate`, sorted.
    """

    constant: np.ndarray
    value: np.ndarray
    keep: np.ndarray
    best_rate: np.ndarray
    slope: np.ndarray
    offset: np.ndarray
    sorted_candidates: np.ndarray
    inactive_rate: np.ndarray
    inactive_value: np.ndarray
    sorted_inactive: np.ndarray

    @property
    def removable_rate(self) -> np.ndarray:
        """Per neuron, the rate of the piece it would be removed or folded
        in: at a threshold at or below it, it leaves the producer."""
        return np.maximum(self.best_rate, self.inactive_rate)


def site_facts(
    site: SiteSpec, rates: np.ndarray, remove_dead: bool, remove_inactive: bool = False
) -> SiteFacts:
    """What `base_decision` and `with_linear` read of a site's rates:
    neurons constant on every row (with `remove_dead`), each neuron's best
    sloped piece, and (with `remove_inactive`) its best removable
    constant piece."""
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
    inactive_rate, inactive_value = _inactive_pieces(site, rates, remove_inactive)
    beats = (inactive_rate > best_rate) & ~is_constant
    return SiteFacts(
        constant,
        value[constant],
        np.flatnonzero(~np.isin(neurons, constant)),
        best_rate,
        slopes[best_piece, neurons],
        offsets[best_piece],
        np.sort(best_rate[~is_constant]),
        np.where(beats | is_constant, inactive_rate, 0.0),
        inactive_value,
        np.sort(inactive_rate[beats]),
    )


def _inactive_pieces(site, rates, remove_inactive):
    """Per neuron: the highest rate of a constant piece it may be removed
    in (0 without `remove_inactive`), and that piece's output."""
    width = site.width
    if not remove_inactive:
        return np.zeros(width), np.zeros(width)
    usable = [
        i
        for i, p in enumerate(site.activation.pieces)
        if p.is_constant and (site.nonzero_constants or p.offset == 0)
    ]
    if not usable:
        return np.zeros(width), np.zeros(width)
    sub = rates[usable]
    best = np.argmax(sub, axis=0)
    offsets = np.array([site.activation.pieces[i].offset for i in usable])
    return sub[best, np.arange(width)], offsets[best]


def base_decision(
    site: SiteSpec,
    facts: SiteFacts,
    threshold: float,
    inactive_threshold: float | None = None,
) -> SiteDecision:
    """Constant neurons removed (with `remove_inactive`, also those in a
    constant piece on at least `inactive_threshold` of the rows, default
    `threshold`, where that beats their best sloped piece), linear ones
    not (yet) folded."""
    if inactive_threshold is None:
        inactive_threshold = threshold
    constant, value, keep = _removed_at(facts, inactive_threshold)
    if keep is facts.keep:  # no inactive neuron removed: one search
        ranked = facts.sorted_candidates
        candidates = int(ranked.size - np.searchsorted(ranked, threshold))
    else:
        candidates = int(np.count_nonzero(facts.best_rate[keep] >= threshold))
    reason = "" if candidates else no_neuron_reason(threshold)
    if site.linear_block and candidates:
        reason, candidates = site.linear_block, 0
    empty = np.array([], np.int64)
    return SiteDecision(
        site.name,
        empty,
        np.zeros(0),
        np.zeros(0),
        constant,
        value,
        keep,
        candidates,
        False,
        reason,
    )


def no_neuron_reason(threshold: float) -> str:
    """Why a site with no linear neuron folds nothing, in a user's words."""
    return (
        f"no neuron reaches the threshold: none is linear on at least "
        f"{threshold:.4g} of the calibration rows; a lower threshold (or a "
        "size target) folds some"
    )


def _removed_at(facts, threshold):
    """`(constant, value, keep)` at `threshold`: the neurons constant on
    every row, plus (with `remove_inactive`) those inactive on at least
    `threshold` of the rows, at least one neuron kept."""
    if not facts.sorted_inactive.size or facts.sorted_inactive[-1] < threshold:
        return facts.constant, facts.value, facts.keep
    inactive = facts.keep[facts.inactive_rate[facts.keep] >= threshold]
    if inactive.size == facts.keep.size:
        inactive = inactive[1:]  # each consumer keeps an input
    constant = np.concatenate([facts.constant, inactive])
    order = np.argsort(constant, kind="stable")
    value = np.concatenate([facts.value, facts.inactive_value[inactive]])[order]
    keep = np.setdiff1d(facts.keep, inactive)
    return constant[order], value, keep


def best_sloped_piece(
    pieces: Sequence[Piece], rates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron: the highest rate of a non-constant piece, and its index."""
    sloped = [i for i, p in enumerate(pieces) if not p.is_constant]
    sub = rates[sloped]
    best = np.argmax(sub, axis=0)
    return sub[best, np.arange(rates.shape[1])], np.asarray(sloped)[best]


def with_linear(facts: SiteFacts, base: SiteDecision, threshold: float) -> SiteDecision:
    """`base` with the neurons whose best sloped piece reaches `threshold`
    folded."""
    is_linear = facts.best_rate >= threshold
    is_linear[base.constant] = False
    linear = np.flatnonzero(is_linear)
    return dataclasses.replace(
        base,
        linear=linear,
        slope=facts.slope[linear],
        offset=facts.offset[linear],
        keep=base.keep[~is_linear[base.keep]],
        folded=True,
    )


def removal_plan(
    spec: GraphSpec,
    remove: Mapping[str, ArrayLike],
    options: Mapping[str, Any] | None = None,
) -> Plan:
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
