"""Refit: least-squares shortcuts for the folded neurons (docs/method.md, 8).

The plain fold models a folded neuron `j` as `slope_j z_j + offset_j`,
exact only where it stays in that piece. Refit instead fits, by ridge least
squares on the calibration data, the affine map from what the producer's
terms read (its input, plus the sources earlier folds gave it; a
convolution's input patches) to the neurons' true outputs `sigma(z_J)`. The
consumers then receive `fitted @ W_C[J]`, so the shortcut keeps rank
<= |J| and the planner's count is unchanged. At threshold 1.0 the true
outputs are exactly affine, so the fit reproduces the plain fold.

The normal equations come from `measurement/moments.py` (summed by
`measurement/moment_probe.py`): from statistics
measured with `moments=True`, or else from one streaming pass over the
data. Producers called at several places (shared layers), and sites whose
producer reads a transposed convolution's term, keep the plain fold and
are listed.
"""

import dataclasses

import numpy as np

from keras_linprune.core import algebra
from keras_linprune.measurement import moment_blocks, moment_probe
from keras_linprune.plan import layout as layout_lib


@dataclasses.dataclass
class _Problem:
    site: str
    keys: list  # term keys, in the producer's term order
    blocks: tuple  # the feature block each term reads
    columns: list  # kept channels of each term's source (None: all)
    linear: np.ndarray
    intercept: bool


def fit(
    analysis,
    plan,
    data=None,
    *,
    moments=None,
    batch_size=None,
    ridge=1e-6,
    verbose=0,
    steps=None,
    strategy=None,
):
    """Least-squares linear parts for every folded site refit can read.

    Args:
        analysis: The analysed model (`analysis.analyse`).
        plan: The `plan.Plan` being executed.
        data: Calibration inputs (as for `measure`), read when `moments`
            is `None`.
        moments: `{site: SiteMoments}` measured with `moments=True` (they
            hold every feature a plan can read), or `None` for a pass over
            `data`.
        batch_size: Rows per batch for unbatched data.
        ridge: Ridge strength, relative to the mean diagonal of `F^T F`.
        verbose: Progress bar.
        steps: Batches to read (`None`: all).
        strategy: A `tf.distribute.Strategy` (default: the one in scope, if
            any) for the pass over `data`.

    Returns:
        `(fitted, skipped)`: mapping from site key to an `algebra.Affine`
        (the `fitted` argument of `algebra.fold_site`), and
        `{site: reason}` for folded sites that keep the plain fold.
    """
    problems, skipped = refit_problems(analysis, plan)
    if not problems:
        return {}, skipped
    if moments is None:
        moments = moment_probe.gather(
            analysis,
            {p.site: p.blocks for p in problems},
            data,
            batch_size=batch_size,
            steps=steps,
            verbose=verbose,
            strategy=strategy,
        )
    missing = [p.site for p in problems if p.site not in moments]
    if missing:  # measured moments cover every site refit can fit
        raise RuntimeError(
            f"keras_linprune bug: no second moments for sites {missing}. "
            "Please report it with the model's summary."
        )
    return {p.site: _solve(p, moments[p.site], ridge) for p in problems}, skipped


def refit_problems(analysis, plan):
    """`(problems, skipped)`: one `_Problem` per folded site refit can fit,
    in graph order, and `{site: reason}` for the folded sites it cannot."""
    problems, skipped = [], {}
    terms = layout_lib.node_terms(analysis.spec, plan.decisions)
    for site in analysis.spec.sites:
        d = plan.decisions[site.name]
        if not d.linear.size:
            continue
        reason = moment_blocks.unfit_reason(analysis, site)
        producer_terms = terms[site.producer]
        blocks = reason or moment_blocks.site_blocks(analysis, producer_terms.values())
        if isinstance(blocks, str):
            skipped[site.name] = blocks
            continue
        columns = [
            plan.decisions[source].keep if source in plan.decisions else None
            for source, _, _ in producer_terms.values()
        ]
        layout = plan.layout[site.producer]
        problems.append(
            _Problem(
                site.name,
                list(producer_terms),
                blocks,
                columns,
                d.linear,
                intercept=layout.use_bias or d.moves_offset,
            )
        )
    return problems, skipped


def _solve(p, moments, ridge):
    a, b = moments.normal_equations(
        list(zip(p.blocks, p.columns)), p.linear, p.intercept
    )
    return solve_normal_equations(p, a, b, ridge)


def solve_normal_equations(p, a, b, ridge):
    """The `algebra.Affine` of problem `p` from its normal equations `a w =
    b` (features in term order, tap-major, the ones column last when
    `p.intercept`), with the relative `ridge`."""
    n_features = a.shape[0] - int(p.intercept)
    reg = np.zeros(a.shape[0])
    diag = np.diag(a)[:n_features]
    reg[:n_features] = ridge * max(float(diag.mean()), 1e-12)
    try:
        w = np.linalg.solve(a + np.diag(reg), b)
    except np.linalg.LinAlgError:  # singular (ridge=0, repeated features)
        w = np.linalg.lstsq(a, b, rcond=None)[0]
    terms, start = {}, 0
    for key, block, cols in zip(p.keys, p.blocks, p.columns):
        width = block.width if cols is None else len(cols)
        size = int(np.prod(block.taps)) * width
        terms[key] = w[start : start + size].reshape(*block.taps, width, -1)
        start += size
    bias = w[-1] if p.intercept else None
    return algebra.Affine(terms, bias)
