"""Certified folding: interval bounds prove neurons affine on an input box.

Interval-bound propagation pushes a box `[low, high]` of inputs through the
graph layer by layer. A neuron whose pre-activation interval lies inside
one piece of its activation is affine (linear or constant) for *every*
input in the box, so folding it is exact there, not only on calibration
rows. `piece_indicators` turns the proofs into per-piece "rates" (1 for the
proven piece, 0 elsewhere) that the planner uses at threshold 1.0.

Layers without an interval rule make their outputs unbounded, so nothing
behind them is certified (they never cause a wrong proof).
"""

import keras
import numpy as np

from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.graph import registry
from keras_linprune.graph.kinds.base import to_numpy
from keras_linprune.measurement import data as data_lib
from keras_linprune.measurement.stats import ActivationStats


def input_box(data_min, data_max, fn):
    """Checks and broadcasts a box to each model input's shape.

    Args:
        data_min, data_max: Scalars, arrays broadcastable to an input's
            shape (without the batch axis), or lists of those (one per
            input).
        fn: The functional model.

    Returns:
        List of `(low, high)` float64 arrays, one per model input.
    """
    inputs = list(fn.inputs)
    lows = data_min if isinstance(data_min, (list, tuple)) else [data_min]
    highs = data_max if isinstance(data_max, (list, tuple)) else [data_max]
    if len(lows) != len(inputs) or len(highs) != len(inputs):
        raise ValueError(
            f"Expected an input box with one (low, high) per model input "
            f"({len(inputs)}). Received: {len(lows)} lows, {len(highs)} highs"
        )
    box = []
    for t, lo, hi in zip(inputs, lows, highs):
        shape = tuple(t.shape[1:])
        try:
            lo = np.broadcast_to(np.asarray(lo, np.float64), shape)
            hi = np.broadcast_to(np.asarray(hi, np.float64), shape)
        except ValueError:
            raise ValueError(
                f"Expected box bounds broadcastable to the input shape "
                f"{shape}. Received: shapes {np.shape(lo)} and {np.shape(hi)}"
            ) from None
        if np.any(lo > hi) or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(
                "Expected finite box bounds with low <= high. Received: "
                f"low={np.min(lo)}..{np.max(lo)}, high={np.min(hi)}.."
                f"{np.max(hi)}"
            )
        box.append((lo, hi))
    return box


def propagate(fn, box):
    """Interval bounds of every tensor: `{id(tensor): (low, high)}`, plus
    the pre-activation bounds of inline activations: `{id(node): ...}`.

    Each layer's rule is its kind's `interval` (`graph/kinds/`); a kind
    without one leaves the output unbounded.
    """
    bounds, pre = {}, {}
    for t, b in zip(fn.inputs, box):
        bounds[id(t)] = b
    for node in nodes_lib.ordered_nodes(fn):
        ins = [bounds.get(id(t)) for t in node.input_tensors]
        layer = node.operation
        out = None
        if all(b is not None for b in ins):
            out = registry.kind_of(layer).interval(layer, node, ins, pre)
        for t in node.outputs:
            if out is None:
                shape = tuple(t.shape[1:])
                out = (np.full(shape, -np.inf), np.full(shape, np.inf))
            bounds[id(t)] = out
    return bounds, pre


def piece_indicators(found, bounds, pre):
    """Per site, `(pieces, width)` indicators of proven pieces.

    A neuron gets 1.0 for the piece that provably contains its whole
    pre-activation interval (over every position and call), 0 elsewhere.
    """
    out = {}
    for site in found.spec.sites:
        binding = found.bindings[site.name]
        lows, highs = [], []
        for node, measured in zip(binding.nodes, binding.measured):
            if binding.on_output:  # inline: bounds taken before activation
                lo, hi = pre.get(id(node), (None, None))
            else:
                lo, hi = bounds[id(measured)]
            if lo is None:
                lo = hi = np.full(site.width, np.nan)
            axis = binding.channel_axis
            ch = axis - 1 if axis > 0 else lo.ndim - 1
            lows.append(np.moveaxis(lo, ch, -1).reshape(-1, site.width).min(axis=0))
            highs.append(np.moveaxis(hi, ch, -1).reshape(-1, site.width).max(axis=0))
        lo, hi = np.min(lows, axis=0), np.max(highs, axis=0)
        pieces = site.activation.pieces
        rates = np.zeros((len(pieces), site.width))
        for i, piece in enumerate(pieces):
            prev = pieces[i - 1] if i else None
            starts = lo > piece.lo
            if prev is not None and np.isfinite(piece.lo):
                # Closed at the left end too where the function is
                # continuous there (both pieces agree at the boundary).
                agree = np.isclose(prev.value_at(piece.lo), piece.value_at(piece.lo))
                starts = starts | (agree & (lo >= piece.lo))
            inside = starts & (hi <= piece.hi)
            rates[i, inside] = 1.0
        out[site.name] = rates
    return out


def prototype_check(found, fn):
    """The prototype's test for provably linear neurons, per site.

    A neuron is provably linear when all its incoming weights and its bias
    are >= 0 and its inputs are >= 0 (true behind a ReLU). Here the inputs
    of a site's producer must be ReLU outputs of another site, or the model
    input is assumed non-negative.

    Returns:
        `{site: boolean mask}`.
    """
    out = {}
    for site in found.spec.sites:
        layer = found.bindings[site.name].producer
        kernel = registry.linear_kind(layer).kernel(layer)
        ok = np.all(kernel.reshape(-1, kernel.shape[-1]) >= 0, axis=0)
        if layer.use_bias:
            ok &= to_numpy(layer.bias) >= 0
        out[site.name] = ok
    return out


def certified_stats(fn, found, data, box, batch_size, steps=None):
    """Proofs as `ActivationStats` with 0/1 piece rates, and the box's source.

    Args:
        fn, found: The flattened graph and its sites.
        data: Calibration inputs (used for their min/max when `box` is
            `None`).
        box: `(low, high)` or `None`.
        batch_size: Rows per batch when reading `data`.
        steps: Batches of `data` to read (`None`: all).
    """
    if box is None:
        bounds_in = _data_box(fn, data, batch_size, steps)
        source = "calibration min/max"
    else:
        if not isinstance(box, (tuple, list)) or len(box) != 2:
            raise ValueError(
                "Expected `input_box` to be a pair (low, high). Received: "
                f"input_box={box!r}"
            )
        bounds_in = input_box(*box, fn)
        source = "input_box"
    bounds, pre = propagate(fn, bounds_in)
    rates = piece_indicators(found, bounds, pre)
    counts = {k: r.astype(np.int64) for k, r in rates.items()}
    stats = ActivationStats(
        counts,
        {k: 1 for k in counts},
        0,
        "certified",
        fn.name,
        {s.name: s.activation.principal for s in found.spec.sites},
    )
    return stats, source


def _data_box(fn, data, batch_size, steps):
    """Per-feature min and max of the calibration inputs."""
    lows, highs = None, None
    for batch in data_lib.Calibration(data, fn, batch_size, steps):
        flat = [np.asarray(a) for a in keras.tree.flatten(batch)]
        mins = [a.min(axis=0) for a in flat]
        maxs = [a.max(axis=0) for a in flat]
        lows = mins if lows is None else [np.minimum(a, b) for a, b in zip(lows, mins)]
        highs = (
            maxs if highs is None else [np.maximum(a, b) for a, b in zip(highs, maxs)]
        )
    return input_box(lows, highs, fn)
