"""Walking from a site's activation to the linear layers that read it.

The walk goes through inference identities (`Dropout` ...), foldable
BatchNormalization (absorbed by the consumer), pooling and zero padding
(dead channels only) and channel `Concatenate`s (the reader's kernel splits
into one block per part), and stops at linear consumers.
"""

import dataclasses

from keras_linprune.graph import registry


@dataclasses.dataclass
class ConsumerWalk:
    """What one activation tensor feeds.

    Attributes:
        consumers: `(node, norms)` per linear consumer call: `norms` are
            the BatchNormalization layer names on the way, which the
            consumer absorbs.
        identities: Tensors equal to the activation (after identities).
        via: `id(consumer node)` -> pooling/padding layers on the way.
        concat: `id(reader node)` -> the `Concatenate` node it reads.
        problem: Why the activation cannot be folded, or "".
    """

    consumers: list = dataclasses.field(default_factory=list)
    identities: list = dataclasses.field(default_factory=list)
    via: dict = dataclasses.field(default_factory=dict)
    concat: dict = dataclasses.field(default_factory=dict)
    problem: str = ""


def consumer_problem(layer, axis, norms):
    """Why `layer` cannot consume a site's activation, or ""."""
    kind = registry.linear_kind(layer)
    name = type(layer).__name__
    if kind is None:
        return f"consumer '{layer.name}' ({name}) is not a Dense or Conv layer"
    if kind.channel_axis(layer) != axis:
        return f"consumer '{layer.name}' ({name}) does not read the channel axis"
    if norms and not kind.exact_on_constants(layer):
        return (
            f"normalization '{norms[-1]}' cannot be folded into the "
            f"padded kernel of consumer '{layer.name}'"
        )
    return ""


def walk_consumers(index, tensor, axis):
    """The `ConsumerWalk` of an activation tensor whose channels are on
    `axis`."""
    walk = ConsumerWalk()
    frontier = [(tensor, (), ())]
    while frontier and not walk.problem:
        t, norms, via = frontier.pop(0)
        for node in index.readers.get(id(t), []):
            walk.problem = _step(index, walk, frontier, node, axis, norms, via)
            if walk.problem:
                break
    if not walk.problem and not walk.consumers:
        walk.problem = "its activation has no Dense or Conv consumer"
    return walk


def _step(index, walk, frontier, node, axis, norms, via):
    """Handles one reader `node` of the walk; returns a problem or ""."""
    layer = node.operation
    kind = registry.kind_of(layer)
    out = node.outputs[0] if node.outputs else None
    if kind.role == "channel_pass" and kind.keeps_channels(layer, axis):
        if id(out) in index.outputs:
            return "its activation is a model output"
        frontier.append((out, norms, via + (layer,)))
        return ""
    is_norm = kind.role == "norm" and kind.foldable(
        layer, index.calls_of_layer(layer), axis
    )
    if kind.role == "identity" or is_norm:
        if id(out) in index.outputs:
            return "its activation is a model output"
        if not via:  # still the activation's value
            walk.identities.append(out)
        frontier.append((out, norms + (layer.name,) if is_norm else norms, via))
        return ""
    if kind.role == "concatenate":
        if via:
            return f"'{via[0].name}' sits before '{layer.name}' (Concatenate)"
        return _through_concat(index, walk, node, axis, norms)
    problem = consumer_problem(layer, axis, norms)
    if not problem:
        if via:
            walk.via[id(node)] = via
        walk.consumers.append((node, norms))
    return problem


def _through_concat(index, walk, node, axis, norms):
    """Adds the linear readers of a channel `Concatenate`; returns a
    problem or "".

    Each reader's kernel splits into one block of rows per concatenated
    input, so a site feeding the concatenation folds into its block like
    into a plain consumer.
    """
    layer = node.operation
    out = node.outputs[0]
    rank = len(out.shape)
    if index.calls_of_layer(layer) > 1 or layer.axis % rank != axis % rank:
        return (
            f"consumer '{layer.name}' (Concatenate) is shared or does not join channels"
        )
    if norms:
        return f"normalization '{norms[-1]}' sits before '{layer.name}' (Concatenate)"
    if id(out) in index.outputs:
        return "its activation reaches a model output"
    roots = [index.root(t) for t in node.input_tensors]
    if len(set(roots)) < len(roots):
        return f"'{layer.name}' (Concatenate) joins the same tensor more than once"
    readers = index.readers.get(id(out), [])
    if not readers:
        return f"'{layer.name}' (Concatenate) has no reader"
    for reader in readers:
        problem = consumer_problem(reader.operation, axis, ())
        if not problem and index.calls_of_layer(reader.operation) > 1:
            problem = (
                f"consumer '{reader.operation.name}' is shared and reads a Concatenate"
            )
        if problem:
            return f"{problem} (after '{layer.name}', a Concatenate)"
    for reader in readers:
        walk.concat[id(reader)] = node
        walk.consumers.append((reader, ()))
    return ""


def lockstep_problem(index, layer, walks):
    """Why the consumers of a (shared) producer's calls cannot be rebuilt
    in lockstep, or `None`: a shared consumer must read this site's
    activation at every call."""
    per_call = [[c for c, _ in w.consumers] for w in walks]
    nodes = {id(c) for call in per_call for c in call}
    if len(nodes) < sum(len({id(c) for c in call}) for call in per_call):
        return (
            f"a consumer reads several calls of shared layer "
            f"'{layer.name}' (through a Concatenate)"
        )
    for walk in walks:
        for consumer, norms in walk.consumers:
            other = index.calls_of[id(consumer.operation)]
            if any(id(n) not in nodes for n in other):
                return (
                    f"consumer '{consumer.operation.name}' is shared "
                    f"with inputs other than '{layer.name}'"
                )
            if norms and (len(walks) > 1 or len(other) > 1):
                return f"normalization '{norms[-1]}' sits between shared layers"
    return None
