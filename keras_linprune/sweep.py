"""Threshold sweeps: size and metrics of the compressed model per threshold.

The statistics are measured once; each threshold costs one plan, one
rebuild and (with `eval_data`) one evaluation — the prototype re-measured
the rates at every threshold.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import keras
import numpy as np
import pandas as pd

from keras_linprune import api, checks
from keras_linprune import options as options_lib
from keras_linprune.analysis import analyse
from keras_linprune.graph.model_checks import check_model
from keras_linprune.measurement import evaluation
from keras_linprune.measurement.data import MIN_ROWS

#: The paper's thresholds: 0.05, 0.10, ..., 1.00.
DEFAULT_THRESHOLDS = tuple(np.round(np.arange(0.05, 1.0001, 0.05), 2))


def sweep(
    model: keras.Model,
    data_or_stats: Any,
    *,
    eval_data: Any = None,
    thresholds: Any = DEFAULT_THRESHOLDS,
    layer_threshold: str | int | float = "optimal",
    remove_dead: bool = True,
    remove_inactive: bool | str = "auto",
    shortcut: str = "auto",
    objective: str = "params",
    metrics: Any = None,
    refit: bool | str = False,
    ridge: float = 1e-6,
    batch_size: int | None = None,
    steps: int | None = None,
    strategy: Any = None,
    min_rows: int = MIN_ROWS,
    verbose: str | int = "auto",
) -> pd.DataFrame:
    """Compresses `model` at every threshold and tabulates size and metrics.

    Args:
        model: A functional or Sequential `keras.Model`. Never modified.
        data_or_stats: Calibration inputs, or `ActivationStats` of `model`.
        eval_data: `(x, y)` (or `(x, y, sample_weight)`), or a dataset
            `Model.evaluate` accepts, to evaluate each compressed model on.
            Without it only sizes are reported.
        thresholds: Thresholds to try (non-empty, each in [0, 1]).
        layer_threshold: As in `apply`.
        remove_dead: As in `apply`.
        remove_inactive: As in `apply`.
        shortcut: As in `apply`.
        objective: As in `apply`.
        metrics: Metric names or `keras.metrics.Metric`s to evaluate;
            default: the model's compiled loss and metrics (the model must
            then be compiled).
        refit: Refit every threshold's shortcuts by least squares, as in
            `apply`. The second moments it needs are gathered once, in the
            measuring pass (or taken from stats measured with
            `moments=True`): no pass over the data per threshold.
        ridge: As in `apply`.
        batch_size: Rows per batch when measuring unbatched data.
        steps: Batches to read per pass over the data (default: all).
        strategy: A `tf.distribute.Strategy` to measure under (default: the
            one in scope); see `measure`.
        min_rows: Fewest calibration rows accepted (default 8); see
            `measure`.
        verbose: Progress bars while measuring and over the thresholds
            (`"auto"` or 1; 0 is silent).

    Returns:
        A `pandas.DataFrame`, one row per threshold: `threshold`,
        `layer_params` (all parameters but the shortcuts),
        `shortcut_params`, `total_params`, `ratio` (of the original),
        `total_macs` (multiply-accumulates per example), one column per
        metric, and `seconds` (plan + rebuild + evaluation).
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
    # refitted shortcuts, still one pass over x_train:
    refitted = linprune.sweep(model, x_train, eval_data=(x_test, y_test), refit=True)
    ```
    """
    check_model(model)
    thresholds = checks.check_thresholds(thresholds)
    metrics = checks.check_metrics(model, eval_data, metrics)
    base = options_lib.Options(
        layer_threshold=layer_threshold,
        remove_dead=remove_dead,
        remove_inactive=remove_inactive,
        shortcut=shortcut,
        objective=objective,
        refit=refit,
        ridge=ridge,
        batch_size=batch_size,
        steps=steps,
        strategy=strategy,
        min_rows=min_rows,
        verbose=verbose,
    )
    base.check_against(model, data_or_stats)
    analysis = analyse(model)  # once, for every threshold
    base.check_analysis(analysis)
    stats, _ = api.statistics(
        analysis, data_or_stats, base, moments=base.refit_mode == "per_site"
    )
    original = {
        "total_params": model.count_params(),
        "total_macs": analysis.spec.total_macs,
    }
    if eval_data is not None:
        original.update(evaluation.evaluate(model, eval_data, metrics))
    bar = keras.utils.Progbar(
        len(thresholds), verbose=base.verbose, unit_name="threshold"
    )
    rows, candidates = [], evaluation.candidate_data(eval_data)
    for t in thresholds:
        rows.append(_row(analysis, stats, base, t, original, candidates, metrics))
        bar.add(1)
    frame = pd.DataFrame(rows)
    frame.attrs["original"] = original
    frame.attrs["refit"] = base.refit_mode
    return frame


def _row(analysis, stats, base, threshold, original, eval_data, metrics):
    """The sweep table's row of one threshold: compress, count, evaluate."""
    start = time.perf_counter()
    opts = dataclasses.replace(base, threshold=threshold, verbose=0)
    small, report = api.compress(analysis, stats, opts)
    total = small.count_params()
    shortcut_params = int(report.shortcut_params.sum())
    row = dict(
        threshold=threshold,
        layer_params=total - shortcut_params,
        shortcut_params=shortcut_params,
        total_params=total,
        ratio=total / original["total_params"],
        total_macs=report.attrs["macs_after"],
    )
    if eval_data is not None:
        row.update(evaluation.evaluate(small, eval_data, metrics, built_here=True))
    row["seconds"] = time.perf_counter() - start
    return row
