"""Walking from a site's activation to the linear layers that read it.

The walk goes through inference identities (`Dropout` ...), foldable
BatchNormalization (absorbed by the consumer), pooling, zero padding and
`Flatten` into a Dense (dead and constant channels only), channel
`Concatenate`s (the reader's kernel splits into one block per part) and
a depthwise convolution followed by per-channel layers (dead channels
only: they reach the consumers as constants), and stops at linear
consumers.
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
        channel_maps: A depthwise convolution and the per-channel layers
            after it, through which every consumer is reached (narrowed with
            the site's kept channels), or `()`.
        narrowed_readers: Separable convolutions reading the activation:
            narrowed with the kept channels, only dead ones may leave.
        problem: Why the activation cannot be folded, or "".
    """

    consumers: list = dataclasses.field(default_factory=list)
    identities: list = dataclasses.field(default_factory=list)
    via: dict = dataclasses.field(default_factory=dict)
    concat: dict = dataclasses.field(default_factory=dict)
    channel_maps: tuple = ()
    narrowed_readers: list = dataclasses.field(default_factory=list)
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
    if not walk.problem and not walk.consumers and not walk.narrowed_readers:
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
    if is_norm and any(registry.kind_of(v).flattens for v in via):
        flat = via[-1]
        return f"normalization '{layer.name}' follows '{flat.name}' (Flatten)"
    if kind.role == "identity" or is_norm:
        if id(out) in index.outputs:
            return "its activation is a model output"
        if not via:  # still the activation's value
            walk.identities.append(out)
        frontier.append((out, norms + (layer.name,) if is_norm else norms, via))
        return ""
    if kind.role == "concatenate":
        if walk.channel_maps:
            return _mixed_paths(walk)
        if via:
            return f"'{via[0].name}' sits before '{layer.name}' (Concatenate)"
        return _through_concat(index, walk, node, axis, norms)
    if kind.role == "depthwise":
        return _through_depthwise(index, walk, node, axis, norms, via)
    if kind.role == "separable":
        return _separable_reader(index, walk, node, axis, norms)
    if walk.channel_maps:
        return _mixed_paths(walk)
    problem = consumer_problem(layer, axis, norms)
    if not problem:
        if via:
            walk.via[id(node)] = via
        walk.consumers.append((node, norms))
    return problem


def _through_depthwise(index, walk, node, axis, norms, via):
    """Adds the consumers behind a depthwise convolution; returns a problem
    or "".

    A dead channel leaves the depthwise convolution as its bias, a constant
    that per-channel layers (BatchNormalization, activations, identities)
    keep constant; consumers that turn a constant input channel into a
    constant output then absorb it into their bias.
    """
    layer = node.operation
    problem = _per_channel_problem(index, layer, axis, norms)
    if not problem and (walk.consumers or walk.channel_maps or walk.narrowed_readers):
        problem = _mixed_paths(walk, layer)
    if problem:
        return problem
    maps, tensor = _channel_maps(index, node, axis)
    if id(tensor) in index.outputs:
        return f"the output of '{maps[-1].name}' is a model output"
    after = walk_consumers(index, tensor, axis)
    problem = after.problem or _constant_problem(after, layer)
    if problem:
        return f"{problem} (after '{layer.name}', {type(layer).__name__})"
    walk.channel_maps = maps
    for consumer, consumer_norms in after.consumers:
        walk.via[id(consumer)] = (*via, layer, *after.via.get(id(consumer), ()))
        walk.consumers.append((consumer, consumer_norms))
    return ""


def _separable_reader(index, walk, node, axis, norms):
    """Adds a separable convolution reading the activation (narrowed with
    the site's kept channels); returns a problem or ""."""
    layer = node.operation
    problem = _per_channel_problem(index, layer, axis, norms)
    if not problem and walk.channel_maps:
        problem = _mixed_paths(walk)
    if not problem and layer not in walk.narrowed_readers:
        walk.narrowed_readers.append(layer)
    return problem


def _per_channel_problem(index, layer, axis, norms):
    """Why a per-channel convolution (depthwise, separable) cannot lose the
    site's dead channels: its kind's reason, a normalization before it (a
    dead channel is no longer zero), or sharing; or ""."""
    problem = registry.kind_of(layer).problem(layer, axis)
    if not problem and norms:
        problem = f"normalization '{norms[-1]}' sits before '{layer.name}'"
    if not problem and index.calls_of_layer(layer) > 1:
        problem = f"'{layer.name}' ({type(layer).__name__}) is shared"
    return problem


def _channel_maps(index, node, axis):
    """The depthwise layer of `node` and the per-channel layers after it
    (single readers), and the tensor they end with."""
    maps, tensor = [node.operation], node.outputs[0]
    while id(tensor) not in index.outputs:
        reader = index.single_reader(tensor)
        if reader is None:
            break
        layer = reader.operation
        kind = registry.kind_of(layer)
        if kind.role == "norm":
            per_channel = kind.copies_per_channel and kind.foldable(
                layer, index.calls_of_layer(layer), axis
            )
        elif kind.role == "activation":
            width = tensor.shape[axis]
            per_channel = not isinstance(kind.describe(layer, width, axis), str)
        else:
            per_channel = kind.role == "identity"
        if not per_channel:
            break
        maps.append(layer)
        tensor = reader.outputs[0]
    return tuple(maps), tensor


def _constant_problem(after, depthwise):
    """Why the consumers behind `depthwise` cannot absorb a constant input
    channel, or ""."""
    if after.concat or after.channel_maps or after.narrowed_readers:
        return "a Concatenate or another depthwise convolution follows"
    for consumer, _ in after.consumers:
        layer = consumer.operation
        if not registry.linear_kind(layer).exact_on_constants(layer):
            return (
                f"consumer '{layer.name}' has a padded kernel: the constant "
                f"channels of '{depthwise.name}' would not stay constant"
            )
        for v in after.via.get(id(consumer), ()):
            if not registry.kind_of(v).keeps_constants:
                return f"'{v.name}' ({type(v).__name__}) does not keep constants"
    return ""


def _mixed_paths(walk, depthwise=None):
    name = depthwise.name if depthwise is not None else walk.channel_maps[0].name
    return f"its activation reaches consumers both through '{name}' and otherwise"


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
