"""Matching a linear layer's call to the activation that follows it."""

import dataclasses

from keras_linprune.graph import activations, registry


@dataclasses.dataclass(frozen=True)
class ActivationMatch:
    """The activation after one call of a linear layer.

    Attributes:
        output: The activation's output tensor.
        measured: The tensor whose pieces are counted: the activation's
            input `z` for an activation layer, its output for an inline
            activation.
        layer: The activation layer, or `None` when inline.
        activation: A `core.pieces.Activation`, or why it cannot fold.
        norms: The affine layers between the linear layer and the
            activation (BatchNormalization, `x * c + d` operations).
    """

    output: object
    measured: object
    layer: object
    activation: object
    norms: tuple = ()


def match_activation(index, node):
    """The `ActivationMatch` after `node` (a linear layer's call), or
    `None` when no activation follows."""
    layer = node.operation
    kind = registry.kind_of(layer)
    out = node.outputs[0]
    units, axis = kind.out_channels(layer), kind.channel_axis(layer)
    if layer.activation is not activations.LINEAR:
        act = activations.describe_function(layer.activation, on_output=True)
        if not isinstance(act, str) and not act.monotone:
            act = (
                f"activation '{act.name}' cannot be measured on its "
                "output; use an activation layer"
            )
        return ActivationMatch(out, out, None, act)
    norms = []
    reader = index.single_reader(out)
    while reader is not None and _is_foldable_norm(index, reader.operation, axis):
        norms.append(reader.operation)
        out = reader.outputs[0]
        reader = index.single_reader(out)
    if reader is None:
        return None
    act_kind = registry.kind_of(reader.operation)
    if act_kind.role != "activation":
        return None
    act = act_kind.describe(reader.operation, units, axis)
    return ActivationMatch(reader.outputs[0], out, reader.operation, act, tuple(norms))


def _is_foldable_norm(index, layer, axis):
    kind = registry.kind_of(layer)
    return kind.role == "norm" and kind.foldable(
        layer, index.calls_of_layer(layer), axis
    )


def calls_problem(index, layer, matches):
    """Why the calls of `layer` cannot form one site, or `None`.

    Every call must be followed by the same foldable activation (the same
    layer, or identical weight-free ones), whose output is no model output;
    a shared layer takes no normalization.
    """
    for i, m in enumerate(matches):
        if m is None:
            return (
                f"layer '{layer.name}' is shared and its call {i} is "
                "not followed by an activation"
            )
        if isinstance(m.activation, str):
            return m.activation
        if id(m.output) in index.outputs:
            return "its activation is a model output"
        if len(matches) > 1 and m.norms:
            return (
                f"normalization '{m.norms[0].name}' follows a shared layer "
                "(one per call site cannot be folded into it)"
            )
    return _activation_layers_problem(index, layer, [m.layer for m in matches])


def _activation_layers_problem(index, layer, act_layers):
    """The calls' activation layers must be one layer called exactly at
    these calls, or identical, weight-free, unshared layers."""
    same = all(a is act_layers[0] for a in act_layers)
    if same and act_layers[0] is not None:
        if index.calls_of_layer(act_layers[0]) != len(act_layers):
            return (
                f"activation layer '{act_layers[0].name}' is shared with other layers"
            )
    elif not same:
        configs = {_config_without_name(a) for a in act_layers}
        weighted = any(a is not None and a.weights for a in act_layers)
        if (
            len(configs) > 1
            or weighted
            or any(index.calls_of_layer(a) > 1 for a in act_layers if a)
        ):
            return (
                f"layer '{layer.name}' is shared and its call sites "
                "use different activations"
            )
    return None


def _config_without_name(layer):
    if layer is None:
        return None
    config = dict(layer.get_config())
    config.pop("name", None)
    return repr(sorted(config.items()))
