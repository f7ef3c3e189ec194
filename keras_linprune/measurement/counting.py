"""Measurement: activation statistics in one streaming pass.

An instrumented sub-model (a `keras.Model` on the same layers whose outputs
are the activation tensors of every site) runs once over the calibration
data. A compiled step turns each batch into integer counts, and the counts
are summed batch by batch: activations are never kept in memory.

The step is a pure per-batch map followed by a sum, so it can run under a
`tf.distribute` strategy (`strategy.run(step, (x,))` + `reduce(SUM)`)
without a redesign.
"""

import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_linprune.core.pieces import INF
from keras_linprune.graph import keras_internals as internals
from keras_linprune.measurement import data as data_lib
from keras_linprune.measurement.stats import ActivationStats


def count_sites(analysis, data, *, batch_size, verbose):
    """Counts the activation pieces of every site of an `Analysis`.

    Args:
        analysis: The analysed model (`analysis.analyse`).
        data: Calibration inputs (anything `data.Calibration` accepts).
        batch_size: Rows per batch for unbatched data (validated).
        verbose: Progress bar (0 off).

    Returns:
        An `ActivationStats`.

    Raises:
        ValueError: For data that yields no rows, or NaN/Inf activations.
    """
    fn, found = analysis.fn, analysis.found
    calibration = data_lib.Calibration(data, fn, batch_size)
    keys, probes, owner = [], [], []
    for s in found.spec.sites:
        binding = found.bindings[s.name]
        keys.append(s.name)
        for measured in binding.measured:  # one per call of the producer
            probes.append(
                (measured, binding.on_output, s.activation, binding.channel_axis)
            )
            owner.append(s.name)
    counter = _counter_for(fn, tuple(keys), probes)
    rows, per_call, per_call_obs, nonfinite = counter.run(calibration, verbose)
    _check_counts(rows, owner, nonfinite)
    pieces, observations = _per_site(keys, owner, per_call, per_call_obs)
    return ActivationStats(
        pieces,
        observations,
        rows,
        analysis.fingerprint,
        analysis.model.name,
        {s.name: s.activation.principal for s in found.spec.sites},
    )


def _check_counts(rows, owner, nonfinite):
    if rows == 0:
        raise ValueError(
            "Expected calibration data with at least one row. "
            "Received: data that yielded 0 rows"
        )
    bad = sorted({k for k, n in zip(owner, nonfinite) if n})
    if bad:
        raise ValueError(
            "Activations are NaN or Inf on the calibration data at site(s) "
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


# Compiled counters, reused across calls on the same model so that repeated
# measurements (e.g. several calibration sets) trace the graph only once.
_COUNTERS = weakref.WeakKeyDictionary()


def _counter_for(fn, keys, probes):
    per_model = _COUNTERS.setdefault(fn, {})
    if keys not in per_model:
        per_model[keys] = _SiteCounter(fn, probes)
    return per_model[keys]


def piece_masks(t, activation, on_output):
    """Boolean tensors, one per piece counted, and the skipped piece.

    When the pieces cover the whole line, one piece (the first) is not
    counted: its count is the observations minus the others'. For plain
    ReLU that leaves a single comparison per activation.
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
                masks.append(tf.equal(t, low))
                continue
            if low != -INF:
                conds.append(t >= low if inclusive else t > low)
            if high != INF:
                conds.append(t < high)
        else:
            if piece.lo != -INF:
                conds.append(t > piece.lo)
            if piece.hi != INF:
                conds.append(t <= piece.hi)
        mask = conds[0]
        for c in conds[1:]:
            mask = tf.logical_and(mask, c)
        masks.append(mask)
    return masks, skip


class _SiteCounter:
    """Runs the instrumented sub-model and sums integer counts."""

    def __init__(self, fn, probes):
        self.probes = probes
        self.n = len(probes)
        self.shapes = [(len(a.pieces), int(t.shape[axis])) for t, _, a, axis in probes]
        tensors = [t for t, _, _, _ in probes]
        self.probe = keras.Model(fn.inputs, tensors) if tensors else None
        # One trace for every batch size: the batch axis is left open, and
        # autograph is off (the step has no data-dependent control flow).
        scalar = tf.TensorSpec((), tf.int64)
        totals = (
            scalar,
            [tf.TensorSpec(shape, tf.int64) for shape in self.shapes],
            [scalar] * self.n,
            [scalar] * self.n,
        )
        batch = keras.tree.map_structure(
            lambda t: tf.TensorSpec((None, *t.shape[1:]), t.dtype),
            internals.inputs_structure(fn),
        )
        self.step = tf.function(
            self._step, autograph=False, input_signature=(totals, batch)
        )

    def batch_counts(self, x):
        """Counts of one batch: rows, per-piece counts, observations,
        non-finite flags.

        A pure map from a batch to integer sums, so that counts of several
        batches (or replicas) combine by addition.
        """
        rows = tf.shape(tf.nest.flatten(x)[0], out_type=tf.int64)[0]
        if self.probe is None:
            return rows, [], [], []
        hs = self.probe(x, training=False)
        if self.n == 1:
            hs = [hs]
        counts, observations, nonfinite = [], [], []
        for h, (_, on_output, activation, axis) in zip(hs, self.probes):
            if axis != -1 and axis != len(h.shape) - 1:
                perm = [0] + list(range(2, len(h.shape))) + [1]
                h = tf.transpose(h, perm)  # channels last
            flat = tf.reshape(h, [-1, h.shape[-1]])
            n_obs = tf.shape(flat, out_type=tf.int64)[0]
            masks, skip = piece_masks(flat, activation, on_output)
            # int32 sums are exact within a batch and much cheaper than
            # int64 on CPU; totals are accumulated in int64.
            rows_of = [
                tf.cast(tf.reduce_sum(tf.cast(m, tf.int32), axis=0), tf.int64)
                for m in masks
            ]
            if skip is not None:
                rest = (
                    n_obs - tf.add_n(rows_of)
                    if rows_of
                    else (tf.fill([flat.shape[-1]], n_obs))
                )
                rows_of.insert(skip, rest)
            counts.append(tf.stack(rows_of))
            observations.append(n_obs)
            # 0 * h is NaN exactly where h is NaN or +-Inf.
            finite = tf.math.is_finite(tf.reduce_sum(flat * 0.0))
            nonfinite.append(tf.cast(tf.logical_not(finite), tf.int64))
        return rows, counts, observations, nonfinite

    def _step(self, totals, x):
        return tf.nest.map_structure(tf.add, totals, self.batch_counts(x))

    def run(self, calibration, verbose):
        bar = None
        if verbose:
            bar = keras.utils.Progbar(
                calibration.num_batches, verbose=verbose, unit_name="batch"
            )
        zero = tf.constant(0, tf.int64)
        totals = (
            zero,
            [tf.zeros(shape, tf.int64) for shape in self.shapes],
            [zero] * self.n,
            [zero] * self.n,
        )
        batches = 0
        for batches, x in enumerate(calibration, start=1):
            totals = self.step(totals, x)
            if bar is not None:
                bar.update(batches)
        rows, counts, observations, nonfinite = tf.nest.map_structure(
            lambda t: t.numpy(), totals
        )
        return (
            int(rows),
            list(counts),
            [int(o) for o in observations],
            [int(n) for n in nonfinite],
        )
