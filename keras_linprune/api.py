"""`apply`: measure -> plan -> rebuild -> report."""

from keras_linprune import certify as certify_lib
from keras_linprune import evaluation
from keras_linprune import flatten as flatten_lib
from keras_linprune import guard as guard_lib
from keras_linprune import graph as graph_lib
from keras_linprune import measurement as measure_lib
from keras_linprune import plan as plan_lib
from keras_linprune import rebuild as rebuild_lib
from keras_linprune import refit as refit_lib
from keras_linprune import report as report_lib
from keras_linprune import sites as sites_lib
from keras_linprune import targets as targets_lib
from keras_linprune import validation
from keras_linprune.stats import ActivationStats


def apply(
    model,
    data_or_stats,
    *,
    threshold=None,
    layer_threshold="optimal",
    remove_dead=True,
    shortcut="auto",
    target_size=None,
    target_params=None,
    target_step=None,
    max_metric_drop=None,
    eval_data=None,
    metric="accuracy",
    refit=False,
    ridge=1e-6,
    certify=False,
    input_box=None,
    batch_size=None,
    verbose="auto",
):
    """Compresses `model` by folding linear neurons and removing dead ones.

    A ReLU neuron that is active on every calibration row is linear there:
    it is removed and its contribution moved onto a linear shortcut from its
    layer's input to the next layer (METHOD.md). Neurons never active are
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
        shortcut: `"auto"` (default) stores each shortcut in its cheapest
            exact form: the full matrix, or two layers through `r` channels
            (`r` <= the number of neurons folded into it), so folding never
            adds parameters; `"dense"` keeps the paper's full matrices
            (use it, with `remove_dead=False`, for parity with the
            prototype).
        target_size: Size budget as a fraction in (0, 1] of the original
            parameter count: the highest threshold whose compressed model
            fits is chosen, searching exactly over the activation rates.
        target_params: The same budget as a number of parameters.
        target_step: With a target, search like the prototype's
            `seq_fixed_size_compression` instead: lower the threshold from
            1.0 in steps of `target_step` and count the size without the
            first layer.
        max_metric_drop: Accuracy guard: return the smallest model whose
            `metric` on `eval_data` is worse than the original's by at most
            this much (absolute; for losses and errors "worse" is
            higher). The distinct thresholds are bisected; the report
            records the metric before and after.
        eval_data: `(x, y)` or `(x, y, sample_weight)` (or a dataset) for
            the guard.
        metric: Metric name for the guard (default "accuracy"), resolved
            like `Model.compile(metrics=[...])`.
        refit: Fit each folded site's shortcut and bias by ridge least
            squares on the calibration data to the folded neurons' true
            outputs, instead of the plain fold (identical at threshold
            1.0, more accurate below it; Dense producers called once).
            Needs the calibration data, not stats: it takes one more
            streaming pass.
        ridge: Ridge strength of the refit, relative to the mean diagonal
            of the normal equations.
        certify: Fold only neurons that interval-bound propagation proves
            affine (or constant) on a whole input box, so the result is
            exact for every input in it, not only on calibration rows.
            The box is `input_box`, or the calibration data's per-feature
            min/max. `data_or_stats` may be `None` with an `input_box`.
        input_box: `(low, high)`: scalars or arrays broadcastable to the
            input shape (a list of pairs' parts per input for several
            inputs). Implies `certify=True`.
        batch_size: Rows per batch when measuring unbatched data.
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
    fn = graph_lib.functional_graph(model)
    choice = _check_choice(
        model, data_or_stats, threshold=threshold,
        layer_threshold=layer_threshold, remove_dead=remove_dead,
        shortcut=shortcut, target_size=target_size,
        target_params=target_params, target_step=target_step,
        max_metric_drop=max_metric_drop, eval_data=eval_data, metric=metric,
        refit=refit, ridge=ridge, certify=certify, input_box=input_box)
    batch_size = validation.check_batch_size(batch_size)
    verbose = validation.check_verbose(verbose)
    fn = flatten_lib.flatten(fn)
    found = sites_lib.find_sites(fn)
    stats, notes = _statistics(model, fn, found, data_or_stats, choice,
                               batch_size, verbose)
    refitter = None
    if choice["refit"]:
        def refitter(plan):
            return refit_lib.fit(fn, found, plan, data_or_stats,
                                 batch_size=batch_size, ridge=ridge,
                                 verbose=verbose)
    if choice["guard"]:
        plan, guard_notes = _guarded(model, fn, found, stats, choice,
                                     refitter)
        notes.update(guard_notes)
    else:
        plan = _plan(found.spec, stats.piece_rates, choice["options"],
                     choice["target"])
    fitted, skipped = refitter(plan) if refitter else (None, {})
    small, reused = rebuild_lib.rebuild(model, fn, found, plan, fitted)
    if small.count_params() != plan.params:
        raise RuntimeError(
            "keras_linprune bug: the rebuilt model has "
            f"{small.count_params()} parameters, the plan counted "
            f"{plan.params}. Please report it with the model's summary."
        )
    nodes = graph_lib.ordered_nodes(fn)
    report = report_lib.make_report(
        plan,
        stats.rates,
        order={n.operation.name: i for i, n in enumerate(nodes)},
        layer_params={n.operation.name: n.operation.count_params()
                      for n in nodes},
        unchanged=found.unchanged,
        rows=stats.rows,
    )
    report["certified"] = report.folded & choice["certify"]
    notes.update(choice["target"], refit=choice["refit"])
    if reused:
        notes["shared_with_original"] = list(reused)
    if skipped:
        notes["refit_skipped"] = skipped
    report.attrs.update(notes)
    return small, report


def _check_choice(model, data, *, threshold, layer_threshold, remove_dead,
                  shortcut, target_size, target_params, target_step,
                  max_metric_drop, eval_data, metric, refit, ridge, certify,
                  input_box):
    """Validates how the threshold and sites are chosen, before any work.

    Returns:
        A dict: `options` (for `plan.make_plan`), `target`, `guard`,
        `refit`, `certify`.
    """
    target = validation.check_target(threshold, target_size, target_params,
                                     target_step)
    guard = validation.check_guard(max_metric_drop, eval_data, metric,
                                   threshold, target)
    if guard:
        evaluation.check_metrics(model, eval_data, [metric])
    validation.check_flag("certify", certify)
    validation.check_flag("refit", refit)
    certify = certify or input_box is not None
    if certify and (threshold is not None or target or guard or refit):
        raise ValueError(
            "Expected `certify` alone: certified folding uses only proven "
            "neurons (threshold 1.0 on the box). Received: certify with "
            "threshold, a target, a metric guard or refit")
    has_data = data is not None and not isinstance(data, ActivationStats)
    if certify and input_box is None and not has_data:
        raise ValueError(
            "Expected an `input_box` or the calibration data (for its "
            "min/max) with `certify=True`. Received: "
            f"{type(data).__name__}")
    if refit:
        validation.check_ridge(ridge)
        if not has_data:
            raise ValueError(
                "Expected the calibration data with `refit=True`: the refit "
                "takes its own pass over it. Received: "
                f"{type(data).__name__}")
    options = dict(
        threshold=validation.check_threshold(
            1.0 if threshold is None else threshold),
        layer_threshold=validation.check_layer_threshold(layer_threshold),
        remove_dead=validation.check_flag("remove_dead", remove_dead),
        shortcut=validation.check_choice(
            "shortcut", shortcut, plan_lib.SHORTCUT_FORMS),
    )
    return dict(options=options, target=target, guard=guard, refit=refit,
                certify=certify, input_box=input_box)


def _statistics(model, fn, found, data, choice, batch_size, verbose):
    """Activation statistics (measured, given, or proven on a box), and
    notes for the report."""
    if choice["certify"]:
        stats, source = certify_lib.certified_stats(
            fn, found, data, choice["input_box"], batch_size)
        return stats, dict(certified=True, input_box=source)
    if isinstance(data, ActivationStats):
        if data.fingerprint != measure_lib.fingerprint(fn, found.spec):
            raise ValueError(
                "The activation statistics were measured on a different model "
                "(or its weights changed since). Measure again with "
                "`linprune.measure(model, data)`. Received: stats of model "
                f"{data.model_name!r} for model {model.name!r}"
            )
        return data, {}
    stats = measure_lib.measure_sites(
        fn, found, data, batch_size=batch_size, verbose=verbose,
        model_name=model.name,
    )
    return stats, {}


def _guarded(model, fn, found, stats, choice, refitter):
    """The plan of the metric guard, and what to record in the report."""
    guard = choice["guard"]
    metric, eval_data = guard["metric"], guard["eval_data"]

    def value_of(keras_model):
        result = evaluation.evaluate(keras_model, eval_data, [metric])
        return result[_result_key(result, metric)]

    def build(plan):
        fitted = refitter(plan)[0] if refitter else None
        return value_of(rebuild_lib.rebuild(model, fn, found, plan,
                                            fitted)[0])

    baseline = value_of(model)
    options = {k: v for k, v in choice["options"].items()
               if k != "threshold"}
    plan, value, tries = guard_lib.guarded_plan(
        found.spec, stats.piece_rates, build, guard["max_metric_drop"],
        metric, baseline, **options)
    return plan, dict(metric=metric, metric_before=baseline,
                      metric_after=value,
                      max_metric_drop=guard["max_metric_drop"],
                      guard_evaluations=tries)


def _result_key(result, metric):
    name = metric if isinstance(metric, str) else metric.name
    if name in result:
        return name
    (key,) = result  # a single metric under Keras' own name
    return key


def _plan(spec, rates, options, target):
    """The plan for fixed options, or for a size target."""
    if not target:
        return plan_lib.make_plan(spec, rates, **options)
    options = {k: v for k, v in options.items() if k != "threshold"}
    if "target_step" in target:
        return targets_lib.plan_for_fixed_size(
            spec, rates, target["target_size"], target["target_step"],
            **options)
    budget = target.get("target_params")
    if budget is None:
        budget = int(target["target_size"] * spec.total_params)
    return targets_lib.plan_for_target(spec, rates, budget, **options)
