"""Finds the fold sites of a functional graph.

A site is a linear layer (any registered linear kind: `Dense`, `ConvND`,
`ConvNDTranspose`), optionally followed by a BatchNormalization, then a
piecewise-linear activation, then one or more linear consumers reading the
channel axis, possibly through inference identities, BatchNormalization,
pooling/padding or a channel `Concatenate`. A layer called at several
places forms one site over all its calls. Every other linear layer
followed by an activation is a *candidate* that is rejected with a reason
the report shows.

The search is split in four modules: `index` (read-only graph facts),
`activation` (linear layer -> activation), `consumers` (activation ->
consumers) and `collector` (what is found, as a `core.spec.GraphSpec`).
"""

import dataclasses

from keras_linprune.core.spec import GraphSpec
from keras_linprune.graph import registry
from keras_linprune.graph.sites.activation import calls_problem, match_activation
from keras_linprune.graph.sites.collector import SiteBinding, SiteCollector, sum_known
from keras_linprune.graph.sites.consumers import lockstep_problem, walk_consumers
from keras_linprune.graph.sites.index import GraphIndex

__all__ = ["FoundSites", "SiteBinding", "find_sites"]


@dataclasses.dataclass(frozen=True)
class FoundSites:
    """Result of `find_sites`.

    Attributes:
        spec: Keras-free `GraphSpec` for the planner.
        bindings: Mapping from site key to `SiteBinding`.
        unchanged: `(layer name, class name)` of layers the engine does not
            understand; they are copied unchanged.
        env: Mapping from `id(node)` of each call of a linear node to
            `{source key: original tensor}`: what each key of its terms
            reads at that call (shared layers read different tensors).
    """

    spec: GraphSpec
    bindings: dict
    unchanged: tuple
    env: dict


def find_sites(fn):
    """Describes the fold sites of the functional model `fn`.

    Args:
        fn: A functional `keras.Model` (see `graph.nodes.functional_graph`).

    Returns:
        A `FoundSites`.

    Example:

    >>> import keras
    >>> x = keras.Input((4,))
    >>> h = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    >>> y = keras.layers.Dense(1, name="out")(h)
    >>> found = find_sites(keras.Model(x, y))
    >>> [(s.name, s.consumers) for s in found.spec.sites]
    [('hidden', ('out',))]
    """
    index = GraphIndex(fn)
    collector = SiteCollector(index)
    seen = set()
    for node in index.nodes:
        layer = node.operation
        if registry.linear_kind(layer) and id(layer) not in seen:
            seen.add(id(layer))
            _visit(index, collector, layer)
    collector.finalize()
    spec = GraphSpec(
        linears=collector.linears,
        sites=tuple(collector.sites),
        rejected=tuple(collector.rejected),
        total_params=int(fn.count_params()),
        absorbed=tuple(collector.absorbed),
        bypassed=tuple(sorted(collector.bypassed)),
        total_macs=sum_known(
            registry.kind_of(n.operation).macs(n.operation, n) for n in index.nodes
        ),
    )
    removed = set(collector.absorbed) | collector.bypassed
    unchanged = tuple(
        (node.operation.name, type(node.operation).__name__)
        for node in index.nodes
        if not registry.kind_of(node.operation).known
        and node.operation.name not in removed
    )
    return FoundSites(spec, collector.bindings, unchanged, collector.env)


def _visit(index, collector, layer):
    """Finds the site of a linear layer over all of its call nodes."""
    nodes = index.calls_of[id(layer)]
    matches = [match_activation(index, node) for node in nodes]
    found = [m for m in matches if m is not None]
    if not found:
        return
    # Named after the first call (node index 0), like a single call.
    first = min(found, key=lambda m: index.call_of(m.output))
    key = index.tensor_key(first.output)
    problem = calls_problem(index, layer, matches)
    walks = []
    if problem is None:
        axis = registry.linear_kind(layer).channel_axis(layer)
        for match in matches:
            walk = walk_consumers(index, match.output, axis)
            if walk.problem:
                problem = walk.problem
                break
            walks.append(walk)
    if problem is None:
        problem = lockstep_problem(index, layer, walks)
    if problem is None and len(walks) > 1:
        if any(w.channel_maps or w.narrowed_readers for w in walks):
            problem = f"shared layer '{layer.name}' feeds a depthwise convolution"
    if problem is not None:
        width = registry.linear_kind(layer).out_channels(layer)
        collector.reject(key, layer, width, problem)
        return
    collector.add_site(key, layer, nodes, matches, walks)
