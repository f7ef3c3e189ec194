"""Recovery steps applied to any plan: refit, rebuild, fine-tune.

A plan says which neurons fold; below threshold 1.0 the compressed model
then only approximates the original, and `apply` can recover part of the
gap: refit the shortcuts (`refit`), and fine-tune the rebuilt model by
distillation (`finetune=` epochs). Policies that compare plans need the
same steps on every plan they try: the metric guard evaluates each probe
*after* its recovery, and a size target scores its candidates. `Recovery`
runs the steps for any plan, once per plan, so that the model a policy
chose is the very model it scored.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_linprune import distillation
from keras_linprune.analysis import Analysis
from keras_linprune.measurement import data as data_lib
from keras_linprune.measurement import evaluation
from keras_linprune.plan import policies
from keras_linprune.plan.decisions import Plan
from keras_linprune.rebuild import rebuild, rebuild_flat, sequential_refit
from keras_linprune.rebuild import refit as refit_lib


class Recovery:
    """Refit, rebuild and fine-tune plans of one model, as `opts` says.

    Args:
        analysis: The analysed model.
        data: The calibration data (or `ActivationStats`, or `None`).
        opts: Validated `Options`.
        moments: The statistics' second moments, or `None`.
    """

    def __init__(self, analysis: Analysis, data: Any, opts: Any, moments: Any) -> None:
        self.analysis = analysis
        self.data = data
        self.opts = opts
        self.moments = moments
        self.fit = _memoized(_refitter(analysis, data, opts, moments))
        self._models: dict[int, tuple] = {}

    def model(self, plan: Plan) -> tuple[keras.Model, dict, dict]:
        """`(compressed model, refit_skipped, notes)` of `plan`: refitted,
        rebuilt and fine-tuned; computed once per plan."""
        if id(plan) not in self._models:
            self._models[id(plan)] = (plan, self._recover(plan))  # holds `plan`
        return self._models[id(plan)][1]

    def _recover(self, plan):
        fitted, skipped, notes = self.fit(plan) if self.fit else (None, {}, {})
        small = rebuild(self.analysis, plan, fitted)
        if small.count_params() != plan.params:
            raise RuntimeError(
                "keras_linprune bug: the rebuilt model has "
                f"{small.count_params()} parameters, the plan counted "
                f"{plan.params}. Please report it with the model's summary."
            )
        epochs = self.opts.finetune
        if epochs:
            small, history = distillation.finetune(
                small, self.analysis.model, self.data, epochs=epochs, verbose=0
            )
            notes = dict(notes, finetune_epochs=len(history.epoch))
        return small, skipped, notes

    def guard(self) -> policies.MetricGuard:
        """The `MetricGuard` policy: each probed plan is recovered (refit,
        `finetune` epochs) and evaluated on `eval_data`."""
        value_of = _metric_of(self.opts)
        return policies.MetricGuard(
            float(self.opts.max_metric_drop),
            self.opts.metric,
            evaluation.lower_is_better(_metric_name(self.opts.metric)),
            value_of(self.analysis.model),
            lambda plan: value_of(self.model(plan)[0], built_here=True),
        )

    def target_score(self) -> Any:
        """`score(plan)`, lower is better, for a size target comparing
        plans (refitted, not fine-tuned: only the chosen one is): the
        model's `metric` on `eval_data` when given (negated where higher
        is better); else, fitted on four fifths of the calibration rows,
        its output error on the fifth it did not see (`data.holdout`: a fit
        that overfits the rows it saw would look faithful on them), or on
        all rows for data not held in memory."""
        analysis, opts = self.analysis, self.opts
        if opts.eval_data is not None:
            value_of = _metric_of(opts)
            sign = (
                1.0 if evaluation.lower_is_better(_metric_name(opts.metric)) else -1.0
            )

            def by_metric(plan):
                fitted = self.fit(plan)[0] if self.fit else None
                model = rebuild(analysis, plan, fitted)
                return sign * value_of(model, built_here=True)

            return by_metric
        split = data_lib.holdout(self.data)
        fit_rows, score_rows = split if split else (self.data, self.data)
        fit = self.fit
        if split and fit is not None:
            fit = _memoized(_refitter(analysis, fit_rows, opts, None))
        error_of = sequential_refit.OutputError(
            analysis, score_rows, batch_size=opts.batch_size, steps=opts.steps
        )

        def by_output_error(plan):
            fitted = fit(plan)[0] if fit else None
            return error_of(rebuild_flat(analysis, plan, fitted)[0])

        return by_output_error


def _refitter(analysis, data, opts, moments):
    """`plan -> (fitted, skipped, notes)` for `opts.refit_mode`, or `None`
    for the plain fold: per site by `refit.fit` (from the statistics'
    second moments if they hold them, else by a pass over `data`), or
    sequentially on the compressed model's values (`sequential_refit`)."""
    if opts.refit_mode == "plain":
        return None
    if opts.refit_mode == "sequential":
        return lambda plan: _sequential(analysis, plan, data, opts)

    def refitter(plan):
        fitted, skipped = refit_lib.fit(
            analysis,
            plan,
            data,
            moments=moments,
            batch_size=opts.batch_size,
            steps=opts.steps,
            ridge=opts.ridge,
            verbose=opts.verbose,
            strategy=opts.strategy,
        )
        return fitted, skipped, {}

    return refitter


def _memoized(refitter):
    """`refitter` computing each plan's fit once (a target or guard fits the
    plans it compares, and the chosen one is rebuilt with the same fit)."""
    if refitter is None:
        return None
    done: dict[int, tuple] = {}

    def memoized(plan):
        if id(plan) not in done:
            done[id(plan)] = (plan, refitter(plan))  # holds `plan`: ids stay unique
        return done[id(plan)][1]

    return memoized


def _sequential(analysis, plan, data, opts):
    """`sequential_refit.fit_sequential` with `opts`, as `(fitted, skipped,
    notes)`: per site whether its fit was kept, and the passes made."""
    result = sequential_refit.fit_sequential(
        analysis,
        plan,
        data,
        batch_size=opts.batch_size,
        steps=opts.steps,
        ridge=opts.ridge,
    )
    notes = dict(refit_choices=result.choices, refit_passes=result.passes)
    return result.fitted, result.skipped, notes


def _metric_of(opts):
    """`value_of(model, built_here=False)`: `opts.metric` on `eval_data`
    (`built_here`: a model this package built, evaluated without the
    user's compile state)."""
    metric = opts.metric
    candidates = evaluation.candidate_data(opts.eval_data)

    def value_of(keras_model, built_here=False):
        data = candidates if built_here else opts.eval_data
        result = evaluation.evaluate(keras_model, data, [metric], built_here=built_here)
        return result[_result_key(result, metric)]

    return value_of


def _metric_name(metric):
    return metric if isinstance(metric, str) else metric.name


def _result_key(result, metric):
    name = _metric_name(metric)
    if name in result:
        return name
    (key,) = result  # a single metric under Keras' own name
    return key
