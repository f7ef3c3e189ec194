"""Threshold sweeps: size and metrics of the compressed model per threshold.

The statistics are measured once; each threshold costs one plan, one
rebuild and (with `eval_data`) one evaluation — the prototype re-measured
the rates at every threshold.
"""

import time

import numpy as np
import pandas as pd

from keras_linprune import api
from keras_linprune import evaluation
from keras_linprune import flatten as flatten_lib
from keras_linprune import graph as graph_lib
from keras_linprune import measurement
from keras_linprune import plan as plan_lib
from keras_linprune import sites as sites_lib
from keras_linprune import validation
from keras_linprune.stats import ActivationStats

#: The paper's thresholds: 0.05, 0.10, ..., 1.00.
DEFAULT_THRESHOLDS = tuple(np.round(np.arange(0.05, 1.0001, 0.05), 2))


def sweep(
    model,
    data_or_stats,
    *,
    eval_data=None,
    thresholds=DEFAULT_THRESHOLDS,
    layer_threshold="optimal",
    remove_dead=True,
    shortcut="auto",
    metrics=None,
    batch_size=None,
    verbose="auto",
):
    """Compresses `model` at every threshold and tabulates size and metrics.

    Args:
        model: A functional or Sequential `keras.Model`. Never modified.
        data_or_stats: Calibration inputs, or `ActivationStats` of `model`.
        eval_data: `(x, y)` (or `(x, y, sample_weight)`), or a dataset
            `Model.evaluate` accepts, to evaluate each compressed model on.
            Without it only sizes are reported.
        thresholds: Thresholds to try (non-empty, each in [0, 1]).
        layer_threshold, remove_dead, shortcut: As in `apply`.
        metrics: Metric names or `keras.metrics.Metric`s to evaluate;
            default: the model's compiled loss and metrics (the model must
            then be compiled).
        batch_size: Rows per batch when measuring unbatched data.
        verbose: Progress bar while measuring.

    Returns:
        A `pandas.DataFrame`, one row per threshold: `threshold`,
        `layer_params` (all parameters but the shortcuts),
        `shortcut_params`, `total_params`, `ratio` (of the original), one
        column per metric, and `seconds` (plan + rebuild + evaluation).
        `attrs["original"]` holds the original model's size and metrics.

    Raises:
        ValueError / TypeError: For an empty or out-of-range threshold
            list, metrics without `eval_data`, an uncompiled model without
            `metrics`, or a metric name Keras does not know; before any
            work is done.

    Example:

    ```python
    table = linprune.sweep(model, x_train, eval_data=(x_test, y_test))
    linprune.plot.metric_vs_weights(table, "accuracy")
    ```
    """
    fn = graph_lib.functional_graph(model)
    thresholds = _check_thresholds(thresholds)
    metrics = evaluation.check_metrics(model, eval_data, metrics)
    for t in thresholds:
        validation.check_threshold(t)
    validation.check_layer_threshold(layer_threshold)
    validation.check_flag("remove_dead", remove_dead)
    validation.check_choice("shortcut", shortcut, plan_lib.SHORTCUT_FORMS)
    batch_size = validation.check_batch_size(batch_size)
    verbose = validation.check_verbose(verbose)
    if isinstance(data_or_stats, ActivationStats):
        stats = data_or_stats
    else:
        fn = flatten_lib.flatten(fn)
        stats = measurement.measure_sites(
            fn, sites_lib.find_sites(fn), data_or_stats,
            batch_size=batch_size, verbose=verbose, model_name=model.name)
    original = {"total_params": model.count_params()}
    if eval_data is not None:
        original.update(evaluation.evaluate(model, eval_data, metrics))
    rows = []
    for t in thresholds:
        start = time.perf_counter()
        small, report = api.apply(
            model, stats, threshold=t, layer_threshold=layer_threshold,
            remove_dead=remove_dead, shortcut=shortcut, verbose=0)
        total = small.count_params()
        shortcut_params = int(report.shortcut_params.sum())
        row = dict(threshold=t, layer_params=total - shortcut_params,
                   shortcut_params=shortcut_params, total_params=total,
                   ratio=total / original["total_params"])
        if eval_data is not None:
            row.update(evaluation.evaluate(small, eval_data, metrics))
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["original"] = original
    return frame


def _check_thresholds(thresholds):
    try:
        values = [float(t) for t in np.atleast_1d(thresholds)]
    except (TypeError, ValueError):
        raise TypeError(
            "Expected `thresholds` to be a list of numbers in [0, 1]. "
            f"Received: thresholds={thresholds!r}"
        ) from None
    if not values:
        raise ValueError(
            "Expected at least one threshold. Received: thresholds="
            f"{thresholds!r}"
        )
    return values
