"""The folded weights of a plan, in float64 NumPy.

Each linear node becomes a `core.algebra.Affine` (its kernel split into
one term per input block, normalization layers absorbed), then every
site's fold runs in site order, so chains compose.
"""

import dataclasses

import numpy as np

from keras_linprune.core import algebra
from keras_linprune.graph import registry
from keras_linprune.graph.kinds import depthwise
from keras_linprune.graph.kinds.base import to_numpy


def initial_affines(analysis):
    """The `Affine` of every linear node of the original model.

    BatchNormalization layers the node absorbs are folded in (input side
    and output side); a reader of a `Concatenate` gets one term per part.
    """
    layers = analysis.operations
    affines = {}
    for name, lin in analysis.spec.linears.items():
        layer = layers[name]
        kind = registry.linear_kind(layer)
        kernel = kind.kernel(layer)
        if kernel.ndim == 2 and lin.taps > 1:  # a Dense reading a Flatten
            kernel = kernel.reshape(lin.taps, lin.in_width, lin.units)
        bias = algebra_bias(layer)
        for norm in reversed(lin.pre_norms):
            kernel, bias = algebra.absorb_input_affine(
                kernel, bias, *_norm_affine(layers[norm])
            )
        for norm in lin.post_norms:
            kernel, bias = algebra.absorb_output_affine(
                kernel, bias, *_norm_affine(layers[norm])
            )
        terms, start = {}, 0
        for key, width in lin.inputs:  # rows of each concatenated part
            terms[key] = kernel[..., start : start + width, :]
            start += width
        affines[name] = algebra.Affine(
            terms, bias, {key: (name, lin.geometry) for key in terms}
        )
    return affines


def _with_bias(affine):
    """`affine` with a zero bias if it has none."""
    if affine.bias is not None:
        return affine
    return dataclasses.replace(affine, bias=np.zeros(affine.units))


def algebra_bias(layer):
    """The layer's bias in float64, or `None`."""
    return to_numpy(layer.bias) if layer.use_bias else None


def _norm_affine(layer):
    return registry.kind_of(layer).affine(layer)


def folded_weights(analysis, plan, fitted=None):
    """Runs the plan's folds on the real weights.

    Args:
        analysis: The analysed model (`analysis.Analysis`).
        plan: Its `plan.decisions.Plan`.
        fitted: Optional mapping from site key to refitted linear parts
            (`rebuild.refit.fit`).

    Returns:
        Mapping from linear-node name to its `algebra.Affine` (float64), or
        `None` for a layer that disappears.
    """
    affines = initial_affines(analysis)
    for site in analysis.spec.sites:
        d = plan.decisions[site.name]
        arguments = d.fold_arguments()
        consumers = [affines[c] for c in site.consumers]
        if site.dead_reach_as_constants and d.constant.size:
            binding = analysis.found.bindings[site.name]
            values = depthwise.dead_channel_values(
                binding.channel_maps, binding.channel_axis
            )
            arguments["value"] = values[d.constant]
            consumers = [_with_bias(c) for c in consumers]  # as planned
        producer, consumers = algebra.fold_site(
            affines[site.producer],
            consumers,
            site.name,
            fitted=(fitted or {}).get(site.name),
            **arguments,
        )
        affines[site.producer] = producer
        for c, affine in zip(site.consumers, consumers):
            affines[c] = affine
    return affines
