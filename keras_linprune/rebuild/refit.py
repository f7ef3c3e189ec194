"""Refit: least-squares shortcuts for the folded neurons (docs/method.md, 8).

The plain fold models a folded neuron `j` as `slope_j z_j + offset_j`,
exact only where it stays in that piece. Refit instead fits, by ridge least
squares on the calibration data, the affine map from the producer's
sources (its input, plus the sources earlier folds gave it) to the
neurons' true outputs `sigma(z_J)`. The consumers then receive
`fitted @ W_C[J]`, so the shortcut keeps rank <= |J| and the planner's
count is unchanged. At threshold 1.0 the true outputs are exactly affine,
so the fit reproduces the plain fold.

The normal equations `[F 1]^T [F 1]` and `[F 1]^T sigma(z_J)` are summed
batch by batch in float64 in one streaming pass: activations are never all
in memory. Under a `tf.distribute` strategy each batch's rows are split
across the replicas and the sums reduced, like the counts. Dense producers
called once are refitted; the others (conv, shared layers) keep the plain
fold and are listed.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_linprune.core import algebra
from keras_linprune.core.spec import source_of
from keras_linprune.graph import registry
from keras_linprune.graph.kinds.linear import DENSE
from keras_linprune.measurement import data as data_lib
from keras_linprune.measurement import jax_counting, replicas


@dataclasses.dataclass
class _Problem:
    site: str
    keys: list  # source keys, in the producer's term order
    tensors: list  # original tensor of each source
    columns: list  # kept columns of each source (None: all)
    target: object  # the activation output
    linear: np.ndarray
    intercept: bool


def fit(
    analysis,
    plan,
    data,
    *,
    batch_size=None,
    ridge=1e-6,
    verbose=0,
    steps=None,
    strategy=None,
):
    """Least-squares linear parts for every folded Dense site.

    Args:
        analysis: The analysed model (`analysis.analyse`).
        plan: The `plan.Plan` being executed.
        data: Calibration inputs (as for `measure`).
        batch_size: Rows per batch for unbatched data.
        ridge: Ridge strength, relative to the mean diagonal of `F^T F`.
        verbose: Progress bar.
        steps: Batches to read (`None`: all).
        strategy: A `tf.distribute.Strategy` (default: the one in scope, if
            any): each batch's rows are split across its replicas and the
            sums reduced (`measurement/replicas.py`).

    Returns:
        `(fitted, skipped)`: mapping from site key to an `algebra.Affine`
        (the `fitted` argument of `algebra.fold_site`), and
        `{site: reason}` for folded sites that keep the plain fold.
    """
    fn, found = analysis.fn, analysis.found
    problems, skipped = _problems(found, plan)
    if not problems:
        return {}, skipped
    tensors, index = [], {}
    for p in problems:
        for t in (*p.tensors, p.target):
            if id(t) not in index:
                index[id(t)] = len(tensors)
                tensors.append(t)
    probe = keras.Model(fn.inputs, tensors)
    sums = _accumulate(
        probe,
        problems,
        index,
        data_lib.Calibration(data, fn, batch_size, steps),
        verbose,
        replicas.active_strategy(strategy),
    )
    fitted = {}
    for p, (a, b) in zip(problems, sums):
        fitted[p.site] = _solve(p, a, b, ridge, found)
    return fitted, skipped


def _problems(found, plan):
    problems, skipped = [], {}
    for site in found.spec.sites:
        d = plan.decisions[site.name]
        if not d.linear.size:
            continue
        binding = found.bindings[site.name]
        producer = binding.producer
        if len(binding.tensor) > 1:
            skipped[site.name] = "shared layer"
            continue
        if registry.linear_kind(producer) is not DENSE:
            skipped[site.name] = "convolution"
            continue
        layout = plan.layout[site.producer]
        env = found.env[id(binding.nodes[0])]
        keys = list(layout.sources)
        sources = [source_of(k) for k in keys]
        columns = [
            plan.decisions[k].keep if k in plan.decisions else None for k in sources
        ]
        problems.append(
            _Problem(
                site.name,
                keys,
                [env[k] for k in sources],
                columns,
                binding.tensor[0],
                d.linear,
                intercept=layout.use_bias or d.moves_offset,
            )
        )
    return problems, skipped


def _normal_equations(outs, problems, index, dtype):
    """Per problem, `([F 1]^T [F 1], [F 1]^T sigma(z_J))` of one batch
    from the probe's outputs `outs`, in `dtype` (`keras.ops`)."""
    result = []
    for p in problems:
        parts = []
        for t, cols in zip(p.tensors, p.columns):
            v = outs[index[id(t)]]
            if cols is not None:
                v = ops.take(v, cols, axis=-1)
            parts.append(ops.reshape(v, (-1, v.shape[-1])))
        f = ops.cast(ops.concatenate(parts, axis=-1), dtype)
        if p.intercept:
            f = ops.concatenate([f, ops.ones_like(f[:, :1])], axis=-1)
        y = ops.take(outs[index[id(p.target)]], p.linear, axis=-1)
        y = ops.cast(ops.reshape(y, (-1, y.shape[-1])), dtype)
        ft = ops.transpose(f)
        result.append((ops.matmul(ft, f), ops.matmul(ft, y)))
    return result


def _batch_step(probe, problems, index, strategy):
    """The compiled `x -> normal equations of the batch`, in float64: a
    `tf.function` (split across the replicas of `strategy`), or a `jax.jit`
    run with 64-bit types enabled (JAX computes in 32 bits by default)."""
    if keras.backend.backend() == "jax":
        jitted = jax_counting.jitted_probe(
            probe, lambda outs: _normal_equations(outs, problems, index, "float64")
        )

        def step(x):
            with _jax_x64():  # float64 sums, as on TensorFlow
                return jitted(x)

        return step

    def batch_sums(x):
        outs = probe(x, training=False)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        return _normal_equations(outs, problems, index, "float64")

    if strategy is None:
        return tf.function(batch_sums, autograph=False, reduce_retracing=True)
    return replicas.compiled_split_sum(strategy, batch_sums, probe.inputs)


def _jax_x64():
    """JAX's context enabling 64-bit types (`jax.enable_x64`, or its older
    home `jax.experimental.enable_x64`)."""
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64

    return enable_x64()


def _accumulate(probe, problems, index, calibration, verbose, strategy):
    step = _batch_step(probe, problems, index, strategy)
    totals = None
    bar = (
        keras.utils.Progbar(calibration.num_batches, verbose=verbose, unit_name="batch")
        if verbose
        else None
    )
    for i, x in enumerate(calibration, start=1):
        sums = [
            (np.asarray(a, np.float64), np.asarray(b, np.float64)) for a, b in step(x)
        ]
        totals = (
            sums
            if totals is None
            else [(a + da, b + db) for (a, b), (da, db) in zip(totals, sums)]
        )
        if bar is not None:
            bar.update(i)
    return totals


def _solve(p, a, b, ridge, found):
    n_features = a.shape[0] - int(p.intercept)
    reg = np.zeros(a.shape[0])
    diag = np.diag(a)[:n_features]
    reg[:n_features] = ridge * max(float(diag.mean()), 1e-12)
    w = np.linalg.solve(a + np.diag(reg), b)
    terms, start = {}, 0
    for key, t, cols in zip(p.keys, p.tensors, p.columns):
        width = int(t.shape[-1]) if cols is None else len(cols)
        terms[key] = w[start : start + width]
        start += width
    bias = w[-1] if p.intercept else None
    return algebra.Affine(terms, bias)
