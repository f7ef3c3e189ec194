"""Measurement: activation statistics in one streaming pass.

An instrumented sub-model (a `keras.Model` on the same layers whose outputs
are the activation tensors of every site) runs once over the calibration
data. A compiled step turns each batch into integer counts, and the counts
are summed batch by batch: activations are never kept in memory.

The step is a pure per-batch map followed by a sum, so it can run under a
`tf.distribute` strategy (`strategy.run(step, (x,))` + `reduce(SUM)`)
without a redesign.
"""

import warnings
import weakref

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_linprune.core.pieces import INF
from keras_linprune.graph.kinds.base import position_rows
from keras_linprune.measurement import data as data_lib
from keras_linprune.measurement import jax_counting, moment_probe, replicas
from keras_linprune.measurement.count_result import CountResult
from keras_linprune.measurement.stats import ActivationStats


def count_sites(
    analysis,
    data,
    *,
    batch_size,
    verbose,
    steps=None,
    strategy=None,
    moments=None,
    min_rows=None,
):
    """Counts the activation pieces of every site of an `Analysis`.

    Args:
        analysis: The analysed model (`analysis.analyse`).
        data: Calibration inputs (anything `data.Calibration` accepts).
        batch_size: Rows per batch for unbatched data (validated).
        verbose: Progress bar (0 off).
        steps: Number of batches to use (`None`: all).
        strategy: A `tf.distribute.Strategy` to count under (default: the
            one in scope, if any): each batch is split across its replicas
            and the integer counts summed, so the result equals one
            device's.
        moments: Also sum, in the same pass, the second moments of these
            sites' features: `{site: feature Blocks}` (`moment_blocks.py`; refit's
            `moment_blocks` for every feature any plan reads), or `None`.
        min_rows: Fewest rows accepted (`None`: any): arrays are checked
            before the pass, datasets after it.

    Returns:
        An `ActivationStats` (with `moments` when asked).

    Raises:
        ValueError: For data that yields no rows, NaN/Inf inputs or
            activations; or moments that would not fit in memory (before
            reading any data).

    Warns:
        CalibrationWarning: Once, when the data cannot support the
            decisions (identical rows, too few observations per neuron).
    """
    fn, found = analysis.fn, analysis.found
    extra = None if moments is None else moment_probe.MomentsProbe(analysis, moments)
    if extra is not None:
        moment_probe.check_fits(extra)  # before reading any data
    calibration = data_lib.Calibration(data, fn, batch_size, steps, min_rows)
    keys, probes, owner = [], [], []
    for s in found.spec.sites:
        binding = found.bindings[s.name]
        keys.append(s.name)
        for measured in binding.measured:  # one per call of the producer
            probes.append(
                (measured, binding.on_output, s.activation, binding.channel_axis)
            )
            owner.append(s.name)
    counter = _counter_for(fn, tuple(keys), probes, extra)
    result = counter.run(calibration, verbose, replicas.active_strategy(strategy))
    if min_rows and result.rows < min_rows:  # a dataset's rows, counted
        raise data_lib.too_few_rows(result.rows, min_rows)
    _check_counts(result, owner)
    pieces, observations = _per_site(keys, owner, result.counts, result.observations)
    stats = ActivationStats(
        pieces,
        observations,
        result.rows,
        analysis.fingerprint,
        analysis.model.name,
        {s.name: s.activation.principal for s in found.spec.sites},
        identical_rows=result.identical_rows,
        # The counter's own probe: a cached counter summed in its order.
        moments=counter.moments.collect(result.moments) if extra else None,
    )
    found_warnings = stats.warnings
    if found_warnings:
        warnings.warn(
            "keras_linprune: the calibration data may not support the "
            "decisions: " + "; ".join(found_warnings),
            CalibrationWarning,
            stacklevel=3,
        )
    return stats


class CalibrationWarning(UserWarning):
    """Calibration data too thin or too uniform to support the decisions."""


def _check_counts(result, owner):
    rows, nonfinite = result.rows, result.nonfinite
    bad_inputs = {k: n for k, n in result.input_nonfinite.items() if n}
    if bad_inputs:
        raise data_lib.nonfinite_error(sorted(bad_inputs), max(bad_inputs.values()))
    if rows == 0:
        raise ValueError(
            "Expected calibration data with at least one row. "
            "Received: data that yielded 0 rows"
        )
    bad = sorted({k for k, n in zip(owner, nonfinite) if n})
    if bad:
        raise ValueError(
            "Activations are NaN or Inf (or overflow float32 when summed) on the "
            "calibration data at site(s) "
            f"{bad}; check the data and the model's weights. Received: "
            f"non-finite values in {max(nonfinite)} batch(es)"
        )


def _per_site(keys, owner, per_call, per_call_obs):
    """Counts and observations per site, from per-call results."""
    pieces, observations = {}, {}
    for key in keys:
        calls = [i for i, k in enumerate(owner) if k == key]
        if len(calls) == 1:
            pieces[key] = per_call[calls[0]]
            observations[key] = per_call_obs[calls[0]]
        else:  # a shared producer: (calls, pieces, width)
            pieces[key] = np.stack([per_call[i] for i in calls])
            observations[key] = np.array([per_call_obs[i] for i in calls])
    return pieces, observations


#: Float types whose plain sum of a batch's activations overflows only for
#: absurd values (see `activation_counts`).
_WIDE_FLOATS = ("float32", "float64")

# Compiled counters, reused across calls on the same model so that repeated
# measurements (e.g. several calibration sets) trace the graph only once.
_COUNTERS = weakref.WeakKeyDictionary()


def _counter_for(fn, keys, probes, moments=None):
    per_model = _COUNTERS.setdefault(fn, {})
    key = (keys, moments is not None)
    if key not in per_model:
        per_model[key] = _SiteCounter(fn, probes, moments)
    return per_model[key]


def piece_masks(t, activation, on_output):
    """Boolean tensors, one per piece counted, and the skipped piece.

    When the pieces cover the whole line, one piece (the first) is not
    counted: its count is the observations minus the others'. For plain
    ReLU that leaves a single comparison per activation. Backend-neutral
    (`keras.ops`).
    """
    masks = []
    skip = 0 if activation.partition else None
    for i, piece in enumerate(activation.pieces):
        if i == skip:
            continue
        conds = []
        if on_output:
            low, inclusive, high = activation.h_bounds()[i]
            if low == high:
                masks.append(ops.equal(t, low))
                continue
            if low != -INF:
                conds.append(ops.greater_equal(t, low) if inclusive else t > low)
            if high != INF:
                conds.append(ops.less(t, high))
        else:
            if piece.lo != -INF:
                conds.append(ops.greater(t, piece.lo))
            if piece.hi != INF:
                conds.append(ops.less_equal(t, piece.hi))
        mask = conds[0]
        for c in conds[1:]:
            mask = ops.logical_and(mask, c)
        masks.append(mask)
    return masks, skip


class _SiteCounter:
    """Runs the instrumented sub-model and sums integer counts."""

    def __init__(self, fn, probes, moments=None):
        self.probes = probes
        self.n = len(probes)
        self.shapes = [(len(a.pieces), int(t.shape[axis])) for t, _, a, axis in probes]
        self.moments = moments  # a `MomentsProbe`, summed in the same pass
        tensors = [t for t, _, _, _ in probes]
        tensors += moments.tensors if moments else []
        self.probe = keras.Model(fn.inputs, tensors) if tensors else None
        self.inputs = _numeric_inputs(fn)
        self.model_inputs = fn.inputs
        if keras.backend.backend() != "tensorflow":
            return  # the JAX pass compiles its own step (`jax_counting.py`)
        # One trace for every batch size: the batch axis is left open, and
        # autograph is off (the step has no data-dependent control flow).
        # Traced here, once, and called as a concrete function: TensorFlow's
        # "frequent retracing" warning would otherwise fire when a notebook
        # compresses several models in a row (each counter traces once).
        batch = [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in fn.inputs]
        self.step = tf.function(self._step, autograph=False).get_concrete_function(
            self._zeros(spec=True), batch
        )

    def _zeros(self, spec=False):
        """Initial totals (or their `TensorSpec`s): site counts, and per
        numeric input its non-finite batches, its first row (the reference)
        and the batches with a row that differs from it."""

        def make(shape, dtype, value=0):
            if spec:
                return tf.TensorSpec(shape, dtype)
            return tf.fill(shape, tf.constant(value, dtype))

        sites = (
            make((), tf.int64),
            [make(shape, tf.int64) for shape in self.shapes],
            [make((), tf.int64) for _ in range(self.n)],
            [make((), tf.int64) for _ in range(self.n)],
            [make(shape, tf.float64) for shape in self.moment_shapes],
        )
        inputs = (
            [make((), tf.int64) for _ in self.inputs],
            [
                make(_reference_shape(shape), tf.float64, np.nan)
                for _, _, shape in self.inputs
            ],
            [make((), tf.int64) for _ in self.inputs],
        )
        return sites, inputs

    def input_checks(self, x, references):
        """Per numeric input: whether the batch has NaN/Inf, its reference
        row (the first row seen), and whether a row differs from it. One
        pass each over the batch, in its own dtype (no full-size cast)."""
        nonfinite, new_references, varies = [], [], []
        for (i, _, _), reference in zip(self.inputs, references):
            v = x[i]
            if v.dtype.is_floating:
                finite = tf.reduce_all(tf.math.is_finite(v))
            else:
                finite = tf.constant(True)
            nonfinite.append(tf.cast(tf.logical_not(finite), tf.int64))
            if None in v.shape[1:]:
                v = _row_digests(v)  # rows may differ in size between batches
            unset = tf.reduce_all(tf.math.is_nan(reference))
            reference = tf.where(unset, tf.cast(v[0], tf.float64), reference)
            differs = tf.reduce_any(tf.not_equal(v, tf.cast(reference, v.dtype)))
            new_references.append(reference)
            varies.append(tf.cast(differs, tf.int64))
        return nonfinite, new_references, varies

    def batch_counts(self, x, total_dtype="int64"):
        """Counts of one batch: rows, per-piece counts, observations,
        non-finite flags, as `total_dtype` integers.

        A pure map from a batch to integer sums, so that counts of several
        batches (or replicas) combine by addition. Backend-neutral
        (`keras.ops`): traced by `tf.function` or `jax.jit`.
        """
        rows = ops.cast(ops.shape(x[0])[0], total_dtype)
        if self.probe is None:
            return rows, [], [], [], []
        hs = self.probe(x, training=False)
        hs = list(hs) if isinstance(hs, (list, tuple)) else [hs]
        counts = self.activation_counts(hs[: self.n], total_dtype)
        return (rows, *counts, self.moment_sums(hs[self.n :]))

    @property
    def moment_shapes(self):
        """Shapes of the moments' sums, flat (none without moments)."""
        return [] if self.moments is None else self.moments.shapes

    def moment_sums(self, outs):
        """The moments' float64 sums of one batch (`MomentsProbe.sums`)."""
        return self.moments.sums(outs) if self.moments else []

    def activation_counts(self, hs, total_dtype="int64"):
        """Per probe: `(pieces, width)` counts, observations and a
        non-finite flag, from the probe model's outputs `hs`."""
        counts, observations, nonfinite = [], [], []
        for h, (_, on_output, activation, axis) in zip(hs, self.probes):
            flat = position_rows(h, axis)
            n_obs = ops.cast(ops.shape(flat)[0], total_dtype)
            masks, skip = piece_masks(flat, activation, on_output)
            # int32 sums are exact within a batch and much cheaper than
            # int64 on CPU; totals are accumulated in int64.
            rows_of = [
                ops.cast(ops.sum(ops.cast(m, "int32"), axis=0), total_dtype)
                for m in masks
            ]
            if skip is not None:
                rest = ops.zeros((flat.shape[-1],), total_dtype) + n_obs
                for r in rows_of:
                    rest = rest - r
                rows_of.insert(skip, rest)
            counts.append(ops.stack(rows_of))
            observations.append(n_obs)
            # The sum is NaN or +-Inf where any h is (or, for finite h,
            # when it overflows float32: activations near 1e32, a broken
            # model too); one pass, cheaper than summing 0 * h (1.2 ms of a
            # 30 ms batch on the 2.8M MLP). Half precision overflows at
            # 65,504, so there 0 * h (NaN exactly where h is NaN or +-Inf).
            wide = keras.backend.standardize_dtype(flat.dtype) in _WIDE_FLOATS
            finite = ops.isfinite(ops.sum(flat if wide else flat * 0.0))
            nonfinite.append(ops.cast(ops.logical_not(finite), total_dtype))
        return counts, observations, nonfinite

    def _step(self, totals, x):
        sites, (nonfinite, references, varies) = totals
        new_nonfinite, references, new_varies = self.input_checks(x, references)
        return (
            tf.nest.map_structure(tf.add, sites, self.batch_counts(x)),
            (
                [a + b for a, b in zip(nonfinite, new_nonfinite)],
                references,
                [a + b for a, b in zip(varies, new_varies)],
            ),
        )

    def _distributed_step(self, totals, x):
        """`_step` with the batch's rows split across the replicas of the
        strategy (`split_counts`, set by `run`) and the integer counts
        summed: the same totals as on one device. The input checks run
        once, on the whole batch."""
        sites, (nonfinite, references, varies) = totals
        x = [tf.convert_to_tensor(t) for t in x]
        new_nonfinite, references, new_varies = self.input_checks(x, references)
        counts = self.split_counts(x)
        return (
            tf.nest.map_structure(tf.add, sites, counts),
            (
                [a + b for a, b in zip(nonfinite, new_nonfinite)],
                references,
                [a + b for a, b in zip(varies, new_varies)],
            ),
        )

    def run(self, calibration, verbose, strategy=None):
        """Counts over every batch of `calibration`; with a `strategy` of
        several replicas, each batch is split across them."""
        if keras.backend.backend() == "jax":
            return jax_counting.run(self, calibration, verbose)
        bar = calibration.progress_bar(verbose)
        totals = self._zeros()
        batches = 0
        distributed = strategy is not None
        if distributed:
            self.split_counts = replicas.compiled_split_sum(
                strategy, self.batch_counts, self.model_inputs
            )
        for batches, x in enumerate(calibration, start=1):
            if distributed:
                totals = self._distributed_step(totals, x)
            else:
                totals = self.step(totals, x)
            if bar is not None:
                bar.update(batches)
        sites, inputs = tf.nest.map_structure(lambda t: t.numpy(), totals)
        rows, counts, observations, nonfinite, moments = sites
        input_nonfinite, _, varies = inputs
        return CountResult(
            int(rows),
            list(counts),
            [int(o) for o in observations],
            [int(n) for n in nonfinite],
            {name: int(n) for (_, name, _), n in zip(self.inputs, input_nonfinite)},
            bool(self.inputs) and not any(varies),
            list(moments),
        )


def _reference_shape(shape):
    """Shape of the reference row of an input with feature shape `shape`:
    the row itself, or its digest when a size is unknown."""
    return (2,) if None in shape else shape


def _row_digests(v):
    """Per row, the sum and the sum of squares of its values (float64):
    equal rows have equal digests."""
    flat = tf.reshape(tf.cast(v, tf.float64), [tf.shape(v)[0], -1])
    return tf.stack([tf.reduce_sum(flat, 1), tf.reduce_sum(flat * flat, 1)], 1)


def _numeric_inputs(fn):
    """`(index in fn.inputs, name, feature shape)` of each numeric input."""
    out = []
    for i, (t, name) in enumerate(zip(fn.inputs, data_lib.input_names(fn))):
        if data_lib.is_numeric_input(t):
            out.append((i, name, tuple(t.shape[1:])))
    return out
