"""The exact parameter count of a plan, from structure alone (pure NumPy).

A rebuilt linear node is a sum of terms, one per *source* tensor (its own
input, plus the input of every producer that folded into it, transitively).
`layout_of` propagates the terms through the sites in order, mirroring
`core.algebra.fold_site` on shapes only, so a plan's size is known without
computing a single weight (docs/method.md, section 6).
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from keras_linprune.core.spec import GraphSpec, shares_kernel, term_key

if TYPE_CHECKING:  # decisions.py imports this module
    from keras_linprune.plan.decisions import SiteDecision

#: Per site key, its decision; per linear node, its `NodeLayout`; per site
#: key, its per-piece activation rates; a term: `(source key, taps,
#: geometry signature)`.
Decisions = Mapping[str, "SiteDecision"]
Layout = Mapping[str, "NodeLayout"]
Rates = Mapping[str, np.ndarray]
Term = tuple[str, tuple, str | None]


@dataclasses.dataclass(frozen=True)
class NodeLayout:
    """Shape of one rebuilt linear node.

    Attributes:
        units: Output width after compression (0: the layer disappears).
        sources: Source keys it reads, main input first.
        use_bias: Whether it has a bias.
        params: Parameters of all its matrices and bias.
        shortcut_params: The part of `params` in shortcut terms (from
            sources the layer did not read in the original model).
        ranks: Mapping from source key to the rank of a low-rank term
            (emitted as two layers through `rank` channels), or `None` for
            a full matrix.
    """

    units: int
    sources: tuple
    use_bias: bool
    params: int
    shortcut_params: int
    ranks: dict = dataclasses.field(default_factory=dict)


def total_params(spec: GraphSpec, decisions: Decisions, layout: Layout) -> int:
    """`count_params()` of the rebuilt model."""
    per_channel = sum(
        s.channel_params * decisions[s.name].keep.size for s in spec.sites
    )
    return spec.fixed_params + per_channel + sum(n.params for n in layout.values())


def total_macs(spec: GraphSpec, decisions: Decisions, layout: Layout) -> int | None:
    """Multiply-accumulates per example of the rebuilt model's kernels, or
    `None` when a spatial size is unknown.

    Every term of a rebuilt node is applied at the node's positions (a
    shortcut's output is summed with the node's), so a node costs its
    positions times its kernel parameters, low-rank halves included.
    """
    if spec.fixed_macs is None:
        return None
    per_channel = sum(s.channel_macs * decisions[s.name].keep.size for s in spec.sites)
    kernels = sum(
        spec.linears[name].positions * (node.params - node.units * int(node.use_bias))
        for name, node in layout.items()
    )
    return spec.fixed_macs + per_channel + kernels


def layout_of(
    spec: GraphSpec, decisions: Decisions, shortcut: str = "dense"
) -> dict[str, NodeLayout]:
    """Sources, width and parameters of every rebuilt linear node.

    Mirrors `algebra.fold_site` on shapes only: a consumer keeps its main
    input while the producer keeps any neuron, and receives every term of
    the producer (same source, same kernel taps) when linear neurons fold.
    Each shortcut term also carries a bound on its rank: a fold of `J`
    neurons yields a product through `|J|` channels, and merged terms add
    their ranks. With `shortcut="auto"` a term whose factorization through
    that many channels is smaller than the full matrix is factored.
    """
    terms, biased, units, widths = _propagate(spec, decisions)
    own = _start_of(spec).own
    return {
        name: _node_layout(
            lin, terms[name], biased[name], units[name], widths, shortcut, own[name]
        )
        for name, lin in spec.linears.items()
    }


def _propagate(spec, decisions):
    """Runs the sites' folds on term shapes.

    Returns:
        `(terms, biased, units, widths)`: per node, term key -> `(taps,
        rank bound or None for an original term, geometry signature,
        source key)`; whether it has a bias; its units; and the width of
        every source.
    """
    start = _start_of(spec)
    # Folds replace a consumer's terms by a new dict, never edit one.
    terms, biased = dict(start.terms), dict(start.biased)
    units, widths = dict(start.units), dict(start.widths)
    for site in spec.sites:
        d = decisions[site.name]
        for consumer in site.consumers:
            terms[consumer] = _fold_terms(
                terms[consumer], terms[site.producer], site.name, d
            )
            if d.linear.size:
                biased[consumer] |= biased[site.producer] or d.moves_offset
            biased[consumer] |= d.moves_value
            biased[consumer] |= site.dead_reach_as_constants and d.constant.size > 0
        units[site.producer] = int(d.keep.size)
        widths[site.name] = int(d.keep.size)
    return terms, biased, units, widths


@dataclasses.dataclass(frozen=True)
class _Start:
    """What every layout of a spec starts from (`_propagate`'s inputs with
    nothing folded), built once per spec: the planner lays out thousands
    of plans of one spec."""

    terms: dict
    biased: dict
    units: dict
    widths: dict
    own: dict  # per node, the keys it reads in the original model


_STARTS: dict[int, tuple[weakref.ref, _Start]] = {}


def _start_of(spec):
    """The `_Start` of `spec`, cached while `spec` lives."""
    key = id(spec)
    entry = _STARTS.get(key)
    if entry is None or entry[0]() is not spec:
        start = _Start(
            {
                name: {k: (lin.taps, None, lin.geometry, k) for k, _ in lin.inputs}
                for name, lin in spec.linears.items()
            },
            {name: lin.use_bias for name, lin in spec.linears.items()},
            {name: lin.units for name, lin in spec.linears.items()},
            spec.source_widths,
            {
                name: frozenset(k for k, _ in lin.inputs)
                for name, lin in spec.linears.items()
            },
        )
        entry = (weakref.ref(spec, lambda _: _STARTS.pop(key, None)), start)
        _STARTS[key] = entry
    return entry[1]


def _fold_terms(consumer, producer, site, decision):
    """A consumer's terms after folding `site` (`algebra._fold_into` on
    shapes): its own block survives while the producer keeps a neuron,
    and linear neurons bring every producer term, merged by source and
    geometry, with rank bounds added."""
    n_linear = int(decision.linear.size)
    new = {}
    if decision.keep.size:
        new[site] = consumer[site]
    new.update((k, t) for k, t in consumer.items() if k != site)
    if not n_linear:
        return new
    for k, (taps, rank, geometry, source) in producer.items():
        r = n_linear if rank is None else min(rank, n_linear)
        if k in new and new[k][2] != geometry:
            k = term_key(source, geometry)
        if k in new:
            r = _add_ranks(new[k][1], r)
        new[k] = (taps, r, geometry, source)
    return new


def node_terms(
    spec: GraphSpec, decisions: Mapping[str, Any]
) -> dict[str, dict[str, Term]]:
    """Per linear node, its terms after the plan's folds: term key ->
    `(source key, taps, geometry signature)` (what refit fits)."""
    terms = _propagate(spec, decisions)[0]
    return {
        name: {key: (t[3], t[0], t[2]) for key, t in node.items()}
        for name, node in terms.items()
    }


def possible_terms(spec: GraphSpec) -> dict[str, tuple[Term, ...]]:
    """Per linear node, every `(source key, taps, geometry signature)` it
    can read under some plan: its terms when every site keeps a neuron and
    folds another where linear neurons may fold (folds only add terms, and
    a kept neuron keeps the site's own term), so any plan's terms are among
    them."""
    decisions = {s.name: _ShapeOnly(folds=not s.linear_block) for s in spec.sites}
    return {
        name: tuple(dict.fromkeys(node.values()))
        for name, node in node_terms(spec, decisions).items()
    }


class _ShapeOnly:
    """What `_propagate` reads of a decision keeping one neuron, removing
    one as a constant (with a non-zero value) and, if `folds`, folding one
    with an offset."""

    def __init__(self, folds):
        self.keep = self.constant = np.zeros(1, np.int64)
        self.linear = np.zeros(int(folds), np.int64)
        self.moves_offset = self.moves_value = True


def _node_layout(lin, terms, biased, n, widths, shortcut, own):
    """The `NodeLayout` of one node with `n` units and these terms.

    With `shortcut="auto"`, a term is factored through its rank bound where
    that is smaller, and always when the node is pointwise and the term's
    geometry cannot share its kernel (`spec.shares_kernel`): its second
    half then joins the node's own kernel (`rebuild/terms.py`) instead of
    being added by a separate layer. A term that can share it joins as a
    full block where that is smaller (a `Dense` reading a `Flatten` into
    a `Dense` consumer: the consumer reads the flattened features beside
    the kept units).
    """
    joins = lin.pointwise and lin.source in terms
    total, shortcuts, ranks = 0, 0, {}
    for key, (taps, rank, geometry, source) in terms.items() if n else ():
        rows = taps * widths[source]
        size = rows * n
        if shortcut == "auto" and rank is not None:
            r = min(rank, rows, n)
            apart = joins and not shares_kernel(geometry, lin.geometry)
            if r * (rows + n) < size or apart:
                size, ranks[key] = r * (rows + n), r
        total += size
        if key not in own:
            shortcuts += size
    params = total + n * int(biased)
    return NodeLayout(n, tuple(terms), biased, params, shortcuts, ranks)


def removal_savings(spec: GraphSpec) -> dict[str, int]:
    """Per site, an upper bound on the parameters one of its neurons can
    save when it folds: its row in the producer (every input at its
    original width, and a bias), its columns in every consumer (at their
    original units), and its per-channel parameters. Folding moves a
    neuron onto shortcuts, which only add parameters, so a plan folding
    `n_s` neurons per site has at least `unfolded - sum(n_s * saving_s)`
    parameters (`policies.SizeTarget` skips thresholds by this bound).

    Example:

    >>> from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
    >>> lin = {"a": LinearSpec("a", "x", 4, 8, True),
    ...        "b": LinearSpec("b", "a", 8, 3, True)}
    >>> removal_savings(GraphSpec(lin, (SiteSpec("a", "a", ("b",), 8),), (), 67))
    {'a': 8}
    """
    out = {}
    for site in spec.sites:
        producer = spec.linears[site.producer]
        row = producer.taps * sum(w for _, w in producer.inputs) + 1
        columns = 0
        for name in site.consumers:
            lin = spec.linears[name]
            reads = max(1, sum(1 for key, _ in lin.inputs if key == site.name))
            columns += lin.taps * lin.units * reads
        out[site.name] = row + columns + site.channel_params
    return out


def site_groups(spec: GraphSpec, keys: Iterable[str]) -> list[list[str]]:
    """The sites `keys` split into groups whose folds interact.

    A node's layout depends on the site it produces (its width) and on the
    folds that bring terms into it: the sites it consumes among `keys`
    (the others never fold), and everything that flows into their
    producers (`_propagate`). Sites that never meet in one node's
    dependencies are independent: every cost of a plan (parameters, MACs,
    layers) is a sum over nodes plus per-site terms, so each group can be
    optimised alone, the others unfolded.

    Returns:
        A list of lists of keys (graph order), one per group.

    Example:

    >>> from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
    >>> lin = {n: LinearSpec(n, "x", 4, 4, True) for n in "abcde"}
    >>> sites = (SiteSpec("a", "a", ("b",), 4), SiteSpec("b", "b", ("c",), 4),
    ...          SiteSpec("d", "d", ("e",), 4))
    >>> site_groups(GraphSpec(lin, sites, (), 0), ["a", "b", "d"])
    [['a', 'b'], ['d']]
    """
    keys = list(keys)
    foldable = set(keys)
    inflow: dict[str, set[str]] = {}  # node -> sites whose folds can reach its terms
    depends: dict[str, set[str]] = {}  # node -> sites its layout depends on
    for site in spec.sites:
        depends.setdefault(site.producer, set()).add(site.name)
        if site.name not in foldable:
            continue  # never folds: brings no term into its consumers
        reach = {site.name} | inflow.get(site.producer, set())
        for consumer in site.consumers:
            inflow.setdefault(consumer, set()).update(reach)
            depends.setdefault(consumer, set()).update(reach)
    parent = {k: k for k in foldable}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for sites in depends.values():
        members = [k for k in sites if k in parent]
        for k in members[1:]:
            parent[root(k)] = root(members[0])
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(root(k), []).append(k)
    return list(groups.values())


def chain_order(spec: GraphSpec, group: Sequence[str]) -> list[str] | None:
    """The sites of `group` in chain order if they form a chain, else
    `None`: each site's only consumer is the next site's producer, every
    producer distinct. In a chain, folds interact only within *runs* of
    consecutive folded sites: a site left unfolded passes on its own
    output alone, so the nodes on either side of it depend on different
    runs (`selection.chain_optimal`).
    """
    by_name = {s.name: s for s in spec.sites}
    sites = [by_name[k] for k in group]  # graph order
    if len({s.producer for s in sites}) != len(sites):
        return None
    for site, following in zip(sites, sites[1:]):
        if site.consumers != (following.producer,):
            return None
    return [s.name for s in sites]


def _add_ranks(a, b):
    return None if a is None else a + b
