"""Sequential refit: each site's shortcut fitted on the compressed model's
own upstream values, in graph order (docs/method.md, section 8).

Refit (`refit.py`) fits every folded site on the *original* model's
values of what its producer reads. Once earlier sites are folded, the
compressed model feeds the producer something slightly different, and
the errors compound. Here the sites are fitted one at a time, in graph
order: site `k` is fitted by ridge least squares on the values the
compressed model (sites before `k` already decided) gives its producer's
terms, to the original's outputs of its folded neurons.

Each fit is then kept only if it lowers the compressed model's output
error on the calibration data (mean squared difference from the
original's outputs); otherwise that site keeps the plain fold. So the
result is never worse on the calibration outputs than the plain fold.

Cost: two passes over the data (the original's outputs, and the plain
fold's error), then per site refit can fit one pass for its sums and one
to score the fit: `2 + 2 n` passes for `n` sites, and `n + 1` rebuilds (the
model a kept fit was scored on is the one the next site reads). The
models are called eagerly, batch by batch: each is used for one pass,
so compiling it would cost more than it saves.
"""

import dataclasses
import math

import keras
import numpy as np

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import registry
from keras_linprune.graph.kinds.base import position_rows
from keras_linprune.measurement import data as data_lib
from keras_linprune.measurement.moment_blocks import geometry_layers
from keras_linprune.rebuild import rebuild_flat
from keras_linprune.rebuild.refit import refit_problems, solve_normal_equations


@dataclasses.dataclass
class SequentialFit:
    """What `fit_sequential` did.

    Attributes:
        fitted: `{site: algebra.Affine}` for the sites whose fit was kept
            (the `fitted` argument of `rebuild`).
        skipped: `{site: reason}` for folded sites refit cannot fit.
        choices: `{site: "refit" or "plain"}` for the sites it tried.
        errors: `{site: (plain, refit)}` output errors (mean squared
            difference from the original on the calibration data) with
            that site's plain fold and with its fit.
        passes: Passes over the data it made.
        error: The output error of the result (mean squared difference
            from the original on the calibration data), or `None` when no
            site could be fitted (nothing was measured).
    """

    fitted: dict
    skipped: dict
    choices: dict
    errors: dict
    passes: int
    error: float | None = None


def fit_sequential(analysis, plan, data, *, batch_size=None, steps=None, ridge=1e-6):
    """Fits the plan's folded sites in graph order on the compressed
    model's own values, keeping each fit only where it lowers the output
    error on `data`.

    Args:
        analysis: The analysed model.
        plan: The `Plan` being executed.
        data: Calibration inputs (anything `measure` accepts), read
            `2 + 2 n` times for `n` sites refit can fit.
        batch_size: Rows per batch for unbatched data.
        steps: Batches to read per pass (`None`: all).
        ridge: Ridge strength, relative to the mean diagonal of `F^T F`.

    Returns:
        A `SequentialFit`.
    """
    problems, skipped = refit_problems(analysis, plan)
    result = SequentialFit({}, skipped, {}, {}, 0)
    if not problems:
        return result
    calibration = data_lib.Calibration(data, analysis.fn, batch_size, steps)
    reference = _outputs(analysis.fn, calibration)
    current = rebuild_flat(analysis, plan)  # the sites before the next decided
    best = _output_error(current[0], calibration, reference)
    result.passes = 2
    for p in problems:
        a, b = _normal_equations(analysis, current, p, calibration)
        candidate = {**result.fitted, p.site: solve_normal_equations(p, a, b, ridge)}
        trial = rebuild_flat(analysis, plan, candidate)
        error = _output_error(trial[0], calibration, reference)
        result.passes += 2
        result.errors[p.site] = (best, error)
        if error < best:
            result.fitted, best, current = candidate, error, trial
        result.choices[p.site] = "refit" if p.site in result.fitted else "plain"
    result.error = best
    return result


class OutputError:
    """`error(model)`: the mean squared difference of `model`'s outputs
    from the original's on calibration data (the original's outputs are
    computed once, at the first call). One pass per call.

    Args:
        analysis: The analysed original model.
        data, batch_size, steps: The calibration data, as in `measure`.
    """

    def __init__(self, analysis, data, *, batch_size=None, steps=None):
        self.analysis = analysis
        self.calibration = data_lib.Calibration(data, analysis.fn, batch_size, steps)
        self._reference = None

    def __call__(self, model):
        if self._reference is None:
            self._reference = _outputs(self.analysis.fn, self.calibration)
        return _output_error(model, self.calibration, self._reference)


def _outputs(model, calibration):
    """The model's outputs on every batch, flattened per batch (float64)."""
    return [_flat_outputs(model, x) for x in calibration]


def _predict(model, x):
    """`model`'s outputs on one batch `x` (a list of input arrays), flat,
    as NumPy arrays (an eager call: see the module docstring)."""
    outs = model(internals.pack_inputs(model, x), training=False)
    return [internals.to_numpy(o) for o in keras.tree.flatten(outs)]


def _flat_outputs(model, x):
    outs = _predict(model, x)
    return np.concatenate(
        [np.asarray(o, np.float64).reshape(len(o), -1) for o in outs], axis=1
    )


def _output_error(model, calibration, reference):
    """Mean squared difference of `model`'s outputs from `reference`."""
    total, count = 0.0, 0
    for x, ref in zip(calibration, reference):
        diff = _flat_outputs(model, x) - ref
        total += float(np.sum(diff * diff))
        count += diff.size
    return total / max(count, 1)


def _normal_equations(analysis, current, p, calibration):
    """`(A, b)` of problem `p`'s least squares: features from the
    compressed model `current` (`(flat model, tensor map)`, the sites
    before `p` decided), targets (the site's activation) from the
    original."""
    flat, tensors = current
    readers = _feature_readers(analysis, flat, tensors, p)
    features = keras.Model(flat.inputs, [t for t, _ in readers])
    binding = analysis.found.bindings[p.site]
    target_model = keras.Model(analysis.fn.inputs, binding.tensor[0])
    a = b = None
    for x in calibration:
        (target,) = _predict(target_model, x)
        rows = position_rows(target, binding.channel_axis)
        t = np.asarray(rows, np.float64)[:, p.linear]
        values = _predict(features, x)
        columns = [read(v) for (_, read), v in zip(readers, values)]
        f = np.concatenate(columns, axis=1) if columns else np.zeros((len(t), 0))
        f = np.asarray(f, np.float64)
        if p.intercept:
            f = np.concatenate([f, np.ones((len(f), 1))], axis=1)
        a = f.T @ f if a is None else a + f.T @ f
        b = f.T @ t if b is None else b + f.T @ t
    return a, b


def _feature_readers(analysis, flat, tensors, p):
    """Per term of `p` with kept channels: the compressed model's tensor
    of its source and how to read its feature rows (as the term's kernel
    sees them: position by position, or a convolution's patches)."""
    layers = geometry_layers(analysis)
    binding = analysis.found.bindings[p.site]
    env = analysis.found.env[id(binding.nodes[0])]
    readers = []
    for block, columns in zip(p.blocks, p.columns):
        if columns is not None and len(columns) == 0:
            continue  # every channel of the source folded away
        tensor = tensors[id(env[block.source])]
        layer = layers[block.signature]
        kind = registry.linear_kind(layer)
        taps = math.prod(block.taps)
        if taps == 1 and kind.is_pointwise(layer):
            axis = kind.channel_axis(layer)
            readers.append((tensor, _rows_reader(axis)))
        else:
            readers.append((tensor, _patches_reader(kind, layer, taps)))
    return readers


def _rows_reader(axis):
    return lambda v: np.asarray(position_rows(v, axis))


def _patches_reader(kind, layer, taps):
    return lambda v: internals.to_numpy(kind.feature_rows(layer, v, taps))
