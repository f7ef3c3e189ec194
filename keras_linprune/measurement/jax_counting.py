"""The counting pass (and any pass over a probe model) on JAX.

The per-batch map is `_SiteCounter.activation_counts` (written with
`keras.ops`, shared with TensorFlow), compiled here with `jax.jit` around the
probe model's `stateless_call`. Each batch's counts come back as `int32`
(exact within a batch) and are summed on the host in `int64`: JAX computes
in 32 bits unless `jax_enable_x64` is set, and totals over a large set may
not fit. The input checks (NaN/Inf, identical rows) run on the host in
NumPy, on the batches as they arrive.
"""

import numpy as np

from keras_linprune.measurement import replicas
from keras_linprune.measurement.count_result import CountResult


def run(counter, calibration, verbose):
    """Counts over every batch of `calibration` (a `CountResult`)."""
    step = _compiled_step(counter) if counter.probe is not None else None
    bar = calibration.progress_bar(verbose)
    checks = InputChecks(counter.inputs)
    rows, totals, moments = 0, None, None
    for batches, x in enumerate(calibration, start=1):
        x = [np.asarray(t) for t in x]  # once, for the checks and the step
        rows += int(x[0].shape[0])
        checks.update(x)
        if step is not None:
            counts, sums = step(x)
            counts = [np.asarray(c, np.int64) for c in counts]
            sums = [np.asarray(m, np.float64) for m in sums]
            totals = replicas.add_sums(totals, counts)
            moments = replicas.add_sums(moments, sums)
        if bar is not None:
            bar.update(batches)
    n = counter.n
    totals = totals or [np.zeros(0, np.int64)] * (3 * n)
    return CountResult(
        rows,
        list(totals[:n]),
        [int(o) for o in totals[n : 2 * n]],
        [int(f) for f in totals[2 * n :]],
        checks.nonfinite,
        bool(counter.inputs) and not checks.varies,
        moments or [],
    )


def _compiled_step(counter):
    """`x -> (counts, observations, nonfinite) flat, moment sums` of one
    batch, jitted; run with 64-bit types when there are moments (float64
    sums, as on TensorFlow)."""

    def reduce(outs):
        counts, observations, nonfinite = counter.activation_counts(
            outs[: counter.n], "int32"
        )
        flat = [*counts, *observations, *nonfinite]
        return flat, counter.moment_sums(outs[counter.n :])

    step = jitted_probe(counter.probe, reduce)
    if counter.moments is None:
        return step

    def with_x64(x):
        with x64():
            return step(x)

    return with_x64


def jitted_probe(probe, reduce):
    """`x -> reduce(outputs)`: the probe model's outputs on batch `x` (a
    list, even for one output) reduced by `reduce`, as one `jax.jit` of
    `stateless_call` with the probe's current weights. The counting pass
    and refit's pass (`rebuild/refit.py`) both run through it."""
    import jax

    weights = (
        [v.value for v in probe.trainable_variables],
        [v.value for v in probe.non_trainable_variables],
    )

    @jax.jit
    def step(weights, x):
        outs, _ = probe.stateless_call(*weights, x, training=False)
        return reduce(list(outs) if isinstance(outs, (list, tuple)) else [outs])

    return lambda x: step(weights, [np.asarray(t) for t in x])


def x64():
    """JAX's context enabling 64-bit types (`jax.enable_x64`, or its older
    home `jax.experimental.enable_x64`): float64 sums, as on TensorFlow."""
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64

    return enable_x64()


class InputChecks:
    """Per numeric input: batches with NaN/Inf, and whether any row differs
    from the first one seen (NumPy, on the host)."""

    def __init__(self, inputs):
        self.inputs = inputs  # (index in the batch, name, feature shape)
        self.nonfinite = {name: 0 for _, name, _ in inputs}
        self.references = {}
        self.varies = False

    def update(self, x):
        for i, name, shape in self.inputs:
            v = x[i]
            if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
                self.nonfinite[name] += 1
            rows = v.reshape(len(v), -1).astype(np.float64)
            if None in shape:  # rows may differ in size: compare digests
                rows = np.stack([rows.sum(1), (rows * rows).sum(1)], 1)
            reference = self.references.setdefault(name, rows[0])
            if rows.shape[1:] != reference.shape or np.any(rows != reference):
                self.varies = True
