"""The entry points: `measure` and `apply`.

`apply` reads as the pipeline: options -> analysis -> statistics (measure
or certify) -> plan (a threshold policy) -> refit (optional) -> rebuild ->
report. `compress` is the part after the statistics, shared with `sweep`.
"""

from __future__ import annotations

from typing import Any

import keras
import pandas as pd

from keras_linprune import checks
from keras_linprune import options as options_lib
from keras_linprune import recovery as recovery_lib
from keras_linprune import report as report_lib
from keras_linprune.analysis import Analysis, analyse
from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph.model_checks import check_model
from keras_linprune.measurement import certify as certify_lib
from keras_linprune.measurement import counting, moment_blocks
from keras_linprune.measurement.data import MIN_ROWS
from keras_linprune.measurement.stats import ActivationStats


def measure(
    model: keras.Model,
    data: Any,
    *,
    batch_size: int | None = None,
    steps: int | None = None,
    strategy: Any = None,
    moments: bool = False,
    min_rows: int = MIN_ROWS,
    verbose: str | int = "auto",
) -> ActivationStats:
    """Counts how often each neuron of each fold site is active.

    Args:
        model: A functional or Sequential `keras.Model`. Not modified.
        data: Calibration inputs: a NumPy array (list/dict of arrays for
            several inputs), a pandas DataFrame, a `tf.data.Dataset` (batched
            or not; `x`, `(x, y)` or `(x, y, w)` elements) or a
            `keras.utils.PyDataset`. Labels are ignored.
        batch_size: Rows per batch for unbatched data (default 1024).
        steps: Number of batches to read (default: all); required for an
            infinite dataset, as in `model.predict`.
        strategy: A `tf.distribute.Strategy` to measure under (default: the
            one in scope, `with strategy.scope(): ...`). Each batch is split
            across its replicas and the integer counts are summed, so the
            statistics equal one device's, bit for bit.
        moments: Also gather, in the same pass, the second moments
            `refit=True` needs, so that `apply`, `sweep` and size targets
            can refit from these statistics without reading the data again.
            Per site they take `8 (F + 1) (F + 1 + n)` bytes (`F` the
            features its producer can read under any plan: its input, the
            inputs of producers that can fold into it, a convolution's
            patches; `n` its neurons), see `stats.moments_nbytes`; the
            pass costs about `2 F (F + n)` more operations per output
            position of each producer.
        min_rows: Fewest calibration rows accepted (default 8): fewer
            raise a `ValueError` (arrays before the pass, datasets after
            it). Lower it on purpose, e.g. `min_rows=1`.
        verbose: `"auto"` or 1 shows a progress bar, 0 is silent.

    Returns:
        An `ActivationStats`, to pass to `keras_linprune.apply` as often as
        needed.

    Raises:
        TypeError: If `model` is not a Keras model or `data` has an
            unsupported type.
        ValueError: If the model is subclassed, the data is empty,
            infinite without `steps`, of the wrong shape or dtype, or has
            NaN/Inf values (inputs or activations); or if the moments would
            take more than half of this machine's memory (before reading
            any data).

    Warns:
        CalibrationWarning: When the data cannot support the decisions
            (identical rows, too few observations per neuron); the same
            text is in `stats.warnings` and in every report made from them.

    Example:

    ```python
    stats = linprune.measure(model, x_calib)
    stats.to_dataframe().groupby("site").rate.describe()
    small, report = linprune.apply(model, stats, threshold=0.99)

    rich = linprune.measure(model, x_calib, moments=True)  # + refit's sums
    rich.moments_nbytes                                     # what they take
    small, report = linprune.apply(model, rich, target_size=0.3, refit=True)
    ```
    """
    check_model(model)
    opts = options_lib.Options(
        batch_size=batch_size,
        steps=steps,
        strategy=strategy,
        min_rows=min_rows,
        verbose=verbose,
    )
    checks.check_flag("moments", moments)
    analysis = analyse(model, check_copies=False)  # measure builds no model
    with internals.quiet_retracing():
        return _count(analysis, data, opts, moments)


def apply(
    model: keras.Model,
    data_or_stats: Any,
    *,
    threshold: float | None = None,
    layer_threshold: str | int | float = "optimal",
    remove_dead: bool = True,
    remove_inactive: bool | str = "auto",
    shortcut: str = "auto",
    objective: str = "params",
    target_size: float | None = None,
    target_params: int | None = None,
    target_step: float | None = None,
    max_metric_drop: float | None = None,
    eval_data: Any = None,
    metric: str | keras.metrics.Metric = "accuracy",
    refit: bool | str = "auto",
    ridge: float = 1e-6,
    finetune: int = 0,
    certify: bool = False,
    input_box: Any = None,
    batch_size: int | None = None,
    steps: int | None = None,
    strategy: Any = None,
    min_rows: int = MIN_ROWS,
    verbose: str | int = "auto",
) -> tuple[keras.Model, pd.DataFrame]:
    """Compresses `model` by folding linear neurons and removing dead ones.

    A ReLU neuron that is active on every calibration row is linear there:
    it is removed and its contribution moved onto a linear shortcut from its
    layer's input to the next layer (docs/method.md). Neurons never active are
    removed outright. With the default `threshold=1.0` the compressed model
    computes the same outputs as the original on the calibration data;
    lower thresholds trade accuracy for size.

    Args:
        model: A functional or Sequential `keras.Model`. Never modified.
        data_or_stats: Calibration inputs (anything `measure` accepts) or
            an `ActivationStats` from `measure` on this same model.
        threshold: Activation rate in [0, 1] at or above which a neuron
            counts as linear (default 1.0: exact on the calibration data).
            Not combined with a size target, which chooses it.
        layer_threshold: Which sites' linear neurons fold: `"optimal"`
            (default; the subset of sites giving the smallest exact
            parameter count, `"best"` is an alias), `"greedy"` (the
            prototype's `seq_compression` order), `"sequential"` (each site
            in graph order if it lowers the count), an int `n` (sites with
            more than `n` linear neurons) or a float `f` (more than that
            fraction of the layer).
        remove_dead: Remove neurons that are constant on the data (never
            active ReLU neurons, saturated ReLU6 ones; exact; on by
            default). `False` reproduces the authors' prototype.
        remove_inactive: Also remove neurons in a constant piece on at
            least `threshold` of the rows (rarely active ReLU neurons),
            like dead ones: importance pruning by activation rate in the
            same plan as the linear folds (lossy below threshold 1.0, like
            the folds). `"auto"` (default): with a size target and data to
            compare plans on, the target tries every mix of folding and
            removal (`policies.MIXES`: folding alone, removal at half,
            equal and twice the folds' loss of rows, and removal alone
            beside exact folds) and keeps the most faithful plan that fits;
            otherwise `False`. `True`: removal at the fold threshold.
        shortcut: `"auto"` (default) stores each shortcut in its cheapest
            exact form: the full matrix, or two layers through `r` channels
            (`r` <= the number of neurons folded into it), so folding never
            adds parameters; `"dense"` keeps the paper's full matrices
            (use it, with `remove_dead=False`, for parity with the
            prototype).
        objective: What `layer_threshold="optimal"` (and the other site
            rules) minimise: `"params"` (default, the paper's measure) or
            `"macs"` (multiply-accumulates per example, counted exactly
            like parameters). They differ where parameters cost no
            multiply-accumulate (biases, PReLU slopes, absorbed
            BatchNormalization) and for shared layers (each call costs
            compute, the weights count once). `"latency"`: a cost per
            emitted layer plus a cost per multiply-accumulate, calibrated
            once on this machine by a few-second microbenchmark and cached
            (`measurement/latency_model.py`): folds that add layers for
            little compute are declined. `"macs"` and `"latency"` need
            static spatial sizes. Size targets stay in parameters.
        target_size: Size budget as a fraction in (0, 1] of the original
            parameter count. Per mix (see `remove_inactive`), the highest
            threshold whose compressed model fits is found, searching
            exactly over the activation rates; where several mixes are
            compared, each fitting plan is rebuilt (and refitted as `refit`
            says) and scored: its `metric` on `eval_data` when given, else
            its output error (mean squared difference from the original)
            on every fifth calibration row, fitted on the others (data not
            held in memory, such as a dataset: on all rows). The best score
            wins; `report.attrs["target_candidates"]` lists every plan
            compared and its score, `attrs["target_mix"]` the winner's mix.
            Cost: up to five rebuilds, refits and scoring passes more than
            a single plan (the 2.8M-parameter MLP of `docs/benchmarks.md`:
            about 8 s instead of 1.5-3 s).
        target_params: The same budget as a number of parameters.
        target_step: With a target, search like the prototype's
            `seq_fixed_size_compression` instead: lower the threshold from
            1.0 in steps of `target_step` and count the size without the
            first layer.
        max_metric_drop: Accuracy guard: return the smallest model whose
            `metric` on `eval_data` is worse than the original's by at most
            this much (absolute; for losses and errors "worse" is
            higher), measured after the recovery steps asked for (`refit`,
            `finetune`). With `remove_inactive="auto"` the size budget is
            bisected (8 halvings), each probe a size target comparing the
            mixes on `eval_data` (up to five rebuilds, refits and
            evaluations per probe); otherwise the distinct thresholds are
            bisected. The report records the metric before and after and
            `attrs["guard_evaluations"]`.
        eval_data: `(x, y)` or `(x, y, sample_weight)` (or a dataset) for
            the guard, or for a size target to compare plans on.
        metric: Metric name for the guard and a target's `eval_data`
            (default "accuracy"), resolved
            like `Model.compile(metrics=[...])`.
        refit: How the folded neurons' shortcuts are computed below
            threshold 1.0 (at 1.0 every choice gives the exact fold).
            `"auto"` (default): `"sequential"` when `data_or_stats` is
            the calibration data and the threshold is below 1.0 (or a
            target or guard chooses it); from stats measured with
            `moments=True`, and for a metric guard, `True`; else the plain
            fold. `"sequential"`: each site in graph order, fitted by
            ridge least squares on the *compressed* model's own values of
            what its producer reads, kept only where it lowers the output
            error on the calibration data, so never worse there than the
            plain fold (`2 + 2 n` passes over the data for `n` sites; the
            report's `attrs["refit_choices"]` says which sites kept their
            fit). `True`: every site fitted on the original's values at
            once (one pass, or none from stats with moments; it minimises
            each site's error, not the output's, so just below 1.0 it can
            do slightly worse than the plain fold). `False`: the plain
            fold, `slope z + offset` (the prototype's). Dense and
            convolutional producers called once are fitted; others keep
            the plain fold and are listed in `attrs["refit_skipped"]`.
        ridge: Ridge strength of the refit, relative to the mean diagonal
            of the normal equations.
        finetune: Epochs of distillation fine-tuning after the rebuild
            (`linprune.finetune` with its defaults, on the calibration data,
            which must then be arrays or a DataFrame; default 0: none).
            With `max_metric_drop`, every probed plan is fine-tuned before
            it is evaluated, so the guard holds for the model returned; a
            size target fine-tunes only the plan it chose. The report's
            `attrs["finetune_epochs"]` says how many epochs ran (early
            stopping may end sooner).
        certify: Fold only neurons that interval-bound propagation proves
            affine (or constant) on a whole input box, so the result is
            exact for every input in it, not only on calibration rows.
            The box is `input_box`, or the calibration data's per-feature
            min/max. `data_or_stats` may be `None` with an `input_box`.
        input_box: `(low, high)`: scalars or arrays broadcastable to the
            input shape (a list of pairs' parts per input for several
            inputs). Implies `certify=True`.
        batch_size: Rows per batch when measuring unbatched data.
        steps: Batches to read per pass over the data (default: all);
            required for an infinite dataset.
        strategy: A `tf.distribute.Strategy` to measure (and refit) under
            (default: the one in scope); see `measure`.
        min_rows: Fewest calibration rows accepted when measuring (default
            8); see `measure`.
        verbose: Progress bar while measuring: `"auto"`/1 on, 0 off.

    Returns:
        `(compressed, report)`: a new `keras.Model` of built-in layers
        (compiled like `model` if it was compiled), and a
        `pandas.DataFrame` with one row per site (see `report.py`); totals
        in `report.attrs`, text via `keras_linprune.summary(report)`.

    Raises:
        TypeError / ValueError: For a non-Keras or subclassed model,
            options of the wrong type or range, unusable data, or stats
            measured on another model; always before any work is done.

    Example:

    ```python
    import keras_linprune as linprune

    small, report = linprune.apply(model, x_calib)          # exact
    print(report.linprune.summary())
    small, report = linprune.apply(model, x_calib, threshold=0.95)
    small.save("small.keras")   # plain Keras, no custom_objects needed
    ```
    """
    check_model(model)
    opts = options_lib.Options(
        threshold=threshold,
        layer_threshold=layer_threshold,
        remove_dead=remove_dead,
        remove_inactive=remove_inactive,
        shortcut=shortcut,
        objective=objective,
        target_size=target_size,
        target_params=target_params,
        target_step=target_step,
        max_metric_drop=max_metric_drop,
        eval_data=eval_data,
        metric=metric,
        refit=refit,
        ridge=ridge,
        finetune=finetune,
        certify=certify,
        input_box=input_box,
        batch_size=batch_size,
        steps=steps,
        strategy=strategy,
        min_rows=min_rows,
        verbose=verbose,
    )
    opts.check_against(model, data_or_stats)
    analysis = analyse(model)
    opts.check_analysis(analysis)
    with internals.quiet_retracing():
        stats, notes = statistics(analysis, data_or_stats, opts)
        small, report = compress(analysis, stats, opts, data_or_stats)
    report.attrs.update(notes)
    return small, report


def statistics(
    analysis: Analysis,
    data: Any,
    opts: options_lib.Options,
    moments: bool | None = None,
) -> tuple[ActivationStats, dict[str, Any]]:
    """Activation statistics (measured, given, or proven on a box), and
    notes for the report.

    With `moments` (default: when a metric guard refits several plans),
    a measuring pass also gathers refit's second moments, for any plan.
    """
    if moments is None:
        moments = opts.refit_mode == "per_site" and opts.guarded
    if opts.certify:
        stats, source = certify_lib.certified_stats(
            analysis.fn,
            analysis.found,
            data,
            opts.input_box,
            opts.batch_size,
            opts.steps,
        )
        return stats, dict(certified=True, input_box=source)
    if isinstance(data, ActivationStats):
        if data.fingerprint != analysis.fingerprint:
            raise ValueError(
                "The activation statistics were measured on a different model "
                "(or its weights changed since). Measure again with "
                "`linprune.measure(model, data)`. Received: stats of model "
                f"{data.model_name!r} for model {analysis.model.name!r}"
            )
        data.check_matches(analysis.spec)
        return data, {}
    return _count(analysis, data, opts, moments), {}


def _count(analysis, data, opts, moments):
    """The measuring pass (`counting.count_sites`) with `opts`, also
    gathering refit's moments for every plan when `moments`."""
    return counting.count_sites(
        analysis,
        data,
        batch_size=opts.batch_size,
        verbose=opts.verbose,
        steps=opts.steps,
        strategy=opts.strategy,
        moments=moment_blocks.for_any_plan(analysis) if moments else None,
        min_rows=opts.min_rows,
    )


def compress(
    analysis: Analysis,
    stats: ActivationStats,
    opts: options_lib.Options,
    data: Any = None,
) -> tuple[keras.Model, pd.DataFrame]:
    """Plan -> refit -> rebuild (-> finetune) -> report, from statistics.

    Args:
        analysis: The analysed model.
        stats: Its activation statistics.
        opts: Validated `Options`.
        data: The calibration data (for refit, scoring and `finetune`).

    Returns:
        `(compressed model, report)`.
    """
    recovery = recovery_lib.Recovery(analysis, data, opts, stats.moments)
    policy = opts.policy(
        recovery.guard() if opts.guarded else None,
        recovery.target_score() if opts.scores_target else None,
    )
    plan, notes = policy.plan(analysis.spec, stats.piece_rates, **opts.plan_options)
    small, skipped, recovery_notes = recovery.model(plan)
    notes.update(recovery_notes)
    report = report_lib.make_report(
        plan,
        stats.rates,
        order=analysis.layer_order,
        layer_params=analysis.layer_params,
        unchanged=analysis.found.unchanged,
        rows=stats.rows,
    )
    report["certified"] = report.folded & opts.certify
    notes["layers"] = report_lib.layer_actions(analysis, plan, small)
    notes["refit"] = opts.refit_mode
    if stats.warnings:
        notes["warnings"] = list(stats.warnings)
    if skipped:
        notes["refit_skipped"] = skipped
    report.attrs.update(notes)
    return small, report
