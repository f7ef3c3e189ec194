"""Every option check, in one place.

Each `check_*` function validates one option (or one combination of
options) of the entry points (`apply`, `measure`, `sweep`,
`prune_by_activation`), returns the value normalised (a float threshold,
an int batch size, ...) and raises otherwise, before any work is done.
Every error names what was expected, then `Received: name=value`, in the
style of Keras' own messages. `options.Options` calls them when it is
created; nothing here builds a policy or reads a model's weights.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

import keras
import numpy as np

from keras_linprune.core.spec import GraphSpec
from keras_linprune.graph.model_checks import check_backend
from keras_linprune.graph.nodes import functional_graph
from keras_linprune.measurement.data import Calibration, in_memory, is_dataframe
from keras_linprune.measurement.stats import ActivationStats
from keras_linprune.plan.decisions import LAYER_THRESHOLD_STRINGS


def check_threshold(threshold: Any) -> float:
    """Raises unless `threshold` is a real number in [0, 1]."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(
            "Expected `threshold` to be a number in [0, 1]. "
            f"Received: threshold={threshold!r}"
        )
    if not (0.0 <= threshold <= 1.0) or math.isnan(threshold):
        raise ValueError(
            "Expected `threshold` to be in [0, 1] (the activation rate at "
            f"which a neuron counts as linear). Received: threshold={threshold}"
        )
    return float(threshold)


def check_layer_threshold(layer_threshold: Any) -> str | int | float:
    """Raises unless `layer_threshold` is an accepted per-site rule.

    Accepted: an int `n >= 0`, a float in [0, 1], or one of
    `LAYER_THRESHOLD_STRINGS`.
    """
    accepted = (
        "an int n >= 0 (fold when more than n neurons are linear), a float "
        "in [0, 1] (fold when more than that fraction is linear), or "
        + " / ".join(repr(s) for s in LAYER_THRESHOLD_STRINGS)
        + " (fold when it lowers the parameter count)"
    )
    lt = layer_threshold
    if isinstance(lt, str):
        if lt not in LAYER_THRESHOLD_STRINGS:
            raise ValueError(
                f"Expected `layer_threshold` to be {accepted}. "
                f"Received: layer_threshold={lt!r}"
            )
        return lt
    if isinstance(lt, bool) or not isinstance(lt, numbers.Real):
        raise TypeError(
            f"Expected `layer_threshold` to be {accepted}. "
            f"Received: layer_threshold={lt!r} of type {type(lt).__name__}"
        )
    if isinstance(lt, numbers.Integral):
        if lt < 0:
            raise ValueError(
                f"Expected `layer_threshold` to be {accepted}. "
                f"Received: layer_threshold={lt}"
            )
        return int(lt)
    if not (0.0 <= lt <= 1.0) or math.isnan(lt):
        raise ValueError(
            f"Expected `layer_threshold` to be {accepted}. "
            f"Received: layer_threshold={lt}"
        )
    return float(lt)


def check_target(
    threshold: float | None,
    target_size: float | None,
    target_params: int | None,
    target_step: float | None,
) -> None:
    """Raises unless the size-target options fit together.

    A target chooses the threshold, so it cannot be combined with one;
    `target_size` (a fraction in (0, 1]) and `target_params` (a positive
    count) are alternatives; `target_step` (the prototype's search, in
    (0, 1)) needs `target_size`.
    """
    if target_size is None and target_params is None:
        if target_step is not None:
            raise ValueError(
                "Expected `target_step` only together with `target_size`. "
                f"Received: target_step={target_step!r} without a target"
            )
        return
    if threshold is not None:
        raise ValueError(
            "Expected either `threshold` or a size target, not both: the "
            "target chooses the threshold. Received: threshold="
            f"{threshold!r}, target_size={target_size!r}, "
            f"target_params={target_params!r}"
        )
    if target_size is not None and target_params is not None:
        raise ValueError(
            "Expected one of `target_size` (a fraction) or `target_params` "
            f"(a count). Received: target_size={target_size!r}, "
            f"target_params={target_params!r}"
        )
    if target_params is not None:
        _check_target_params(target_params, target_step)
        return
    if not _is_real(target_size) or not 0.0 < target_size <= 1.0:
        raise ValueError(
            "Expected `target_size` in (0, 1], a fraction of the original "
            f"parameter count. Received: target_size={target_size!r}"
        )
    if target_step is not None and (
        not _is_real(target_step) or not 0.0 < target_step < 1.0
    ):
        raise ValueError(
            f"Expected `target_step` in (0, 1). Received: target_step={target_step!r}"
        )


def _check_target_params(target_params: Any, target_step: Any) -> None:
    if not _is_positive_int(target_params):
        raise ValueError(
            "Expected `target_params` to be a positive int. "
            f"Received: target_params={target_params!r}"
        )
    if target_step is not None:
        raise ValueError(
            "Expected `target_step` with `target_size`, as in the "
            "prototype. Received: target_params with target_step="
            f"{target_step!r}"
        )


def check_guard(
    max_metric_drop: float | None,
    eval_data: Any,
    threshold: float | None,
    has_target: bool,
) -> None:
    """Validates the metric guard's options (`max_metric_drop` may be
    `None`: no guard)."""
    if max_metric_drop is None:
        return
    if (
        not _is_real(max_metric_drop)
        or max_metric_drop < 0
        or math.isnan(max_metric_drop)
    ):
        raise ValueError(
            "Expected `max_metric_drop` to be a number >= 0 (the largest "
            "allowed worsening of the metric). Received: max_metric_drop="
            f"{max_metric_drop!r}"
        )
    if eval_data is None:
        raise ValueError(
            "Expected `eval_data` to measure the metric on. Received: "
            f"max_metric_drop={max_metric_drop} and eval_data=None"
        )
    if threshold is not None or has_target:
        raise ValueError(
            "Expected one way of choosing the threshold: `threshold`, a size "
            "target or `max_metric_drop`. Received: max_metric_drop with "
            f"threshold={threshold!r}" + (" and a size target" if has_target else "")
        )


def check_certify_alone(
    certify: bool, threshold: float | None, chooses_threshold: bool, refit: bool
) -> None:
    """Raises when certified folding (`certify`, or an input box) is
    combined with a threshold, a size target, a metric guard or refit:
    it folds only proven neurons."""
    if certify and (threshold is not None or chooses_threshold or refit):
        raise ValueError(
            "Expected `certify` alone: certified folding uses only "
            "proven neurons (threshold 1.0 on the box). Received: "
            "certify with threshold, a target, a metric guard or refit"
        )


#: Values of `refit`: the plain fold, per-site least squares, the
#: sequential fit on the compressed model's own values, or the best the
#: data allows (`Options.refit_mode`).
REFIT_MODES = (False, True, "sequential", "auto")


def check_refit(refit: Any) -> bool | str:
    """Raises unless `refit` is one of `REFIT_MODES`."""
    if isinstance(refit, bool) or refit in ("sequential", "auto"):
        return refit
    raise ValueError(
        "Expected `refit` to be True (per-site least squares), False (the "
        "plain fold), 'sequential' (each site fitted on the compressed "
        "model's own values, in graph order) or 'auto'. "
        f"Received: refit={refit!r}"
    )


def check_calibration_needs(
    certify: bool, input_box: Any, refit: bool | str, data: Any, finetune: int = 0
) -> None:
    """Raises when `data` (calibration inputs, `ActivationStats` or
    `None`) cannot serve certification without a box, refit, or
    `finetune` epochs (which train on arrays in memory)."""
    if finetune and not in_memory(data):
        raise ValueError(
            f"Expected the calibration data as NumPy arrays (a list or dict of "
            f"them) or a pandas DataFrame with finetune={finetune}: it trains "
            f"on them. Received: {_describe_data(data)}"
        )
    if certify and input_box is None and not has_data(data):
        raise ValueError(
            "Expected an `input_box` or the calibration data (for its "
            "min/max) with `certify=True`. Received: "
            f"{type(data).__name__}"
        )
    if refit == "sequential" and not has_data(data):
        raise ValueError(
            "Expected the calibration data with refit='sequential': it fits "
            "each site on the compressed model's own values, read from the "
            f"data. Received: {_describe_data(data)}"
        )
    if refit is True and not has_data(data) and not has_moments(data):
        raise ValueError(
            "Expected the calibration data, or statistics measured with "
            "`moments=True`, with `refit=True`: the least squares needs "
            f"one or the other. Received: {_describe_data(data)}"
        )


def has_moments(data: Any) -> bool:
    """Whether `data` is `ActivationStats` holding second moments."""
    return isinstance(data, ActivationStats) and data.moments is not None


def _describe_data(data: Any) -> str:
    if isinstance(data, ActivationStats):
        if data.moments is not None:
            return "ActivationStats"
        return "ActivationStats without second moments"
    return type(data).__name__


def has_data(data: Any) -> bool:
    """Whether `data` is calibration data (not stats, not `None`)."""
    return data is not None and not isinstance(data, ActivationStats)


def check_ridge(ridge: Any) -> float:
    """Raises unless `ridge` is a finite number >= 0."""
    if (
        isinstance(ridge, bool)
        or not isinstance(ridge, numbers.Real)
        or not math.isfinite(ridge)
        or ridge < 0
    ):
        raise ValueError(
            f"Expected `ridge` to be a finite number >= 0. Received: ridge={ridge!r}"
        )
    return float(ridge)


def check_flag(name: str, value: Any) -> bool:
    """Raises unless `value` is a bool (NumPy's included); returns it as a
    Python bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"Expected `{name}` to be True or False. Received: {name}={value!r}"
        )
    return bool(value)


def check_remove_inactive(value: Any) -> bool | str:
    """Raises unless `value` is a bool or `"auto"`."""
    if isinstance(value, str) and value == "auto":
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            "Expected `remove_inactive` to be True, False or 'auto'. "
            f"Received: remove_inactive={value!r}"
        )
    return bool(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Raises unless `value` is one of `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {', '.join(map(repr, choices))}. "
            f"Received: {name}={value!r}"
        )
    return value


def _is_real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def _is_positive_int(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Integral)
        and value >= 1
    )


def check_epochs(name: str, value: Any) -> int:
    """Raises unless `value` is an int >= 0 (a number of epochs; 0: none)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Expected `{name}` to be a number of epochs (an int >= 0). "
            f"Received: {name}={value!r}"
        )
    if value < 0:
        raise ValueError(
            f"Expected `{name}` to be a number of epochs (an int >= 0). "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_count(name: str, value: Any, meaning: str = "") -> int | None:
    """Raises unless `value` is None or a positive int (`batch_size`,
    `steps`); `meaning` says what it counts, for the message.

    >>> check_count("steps", 3)
    3
    >>> check_count("steps", 0, "batches to read")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected `steps` to be None or a positive int (batches ...
    Received: steps=0
    """
    if value is None:
        return None
    if not _is_positive_int(value):
        what = f" ({meaning})" if meaning else ""
        raise ValueError(
            f"Expected `{name}` to be None or a positive int{what}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_strategy(strategy: Any) -> Any:
    """Raises unless `strategy` is None or a `tf.distribute.Strategy`."""
    if strategy is None:
        return None
    check_backend(needs_tensorflow="A tf.distribute strategy")
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(
            "Expected `strategy` to be a `tf.distribute.Strategy` (e.g. "
            "`tf.distribute.MirroredStrategy()`) or None. "
            f"Received: strategy={strategy!r}"
        )
    return strategy


def check_verbose(verbose: Any) -> int:
    """Raises unless `verbose` is "auto", 0, 1 or 2 (as in `Model.fit`)."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(
            f'Expected `verbose` to be "auto", 0, 1 or 2. Received: verbose={verbose!r}'
        )
    return int(verbose)


#: Metric names that `compile` resolves from the outputs' shapes.
_COMPILE_NAMES = ("accuracy", "acc", "crossentropy", "ce")


def check_metrics(model: keras.Model, eval_data: Any, metrics: Any) -> list[Any] | None:
    """`None` (use the compiled ones) or the list of metrics to compile.

    Raises:
        ValueError: For metrics without `eval_data`, an uncompiled model
            without `metrics`, or a metric name Keras does not know.
    """
    if metrics is not None and eval_data is None:
        raise ValueError(
            "Expected `eval_data` to evaluate `metrics` on. Received: "
            f"metrics={metrics!r} and eval_data=None"
        )
    if eval_data is None:
        return None
    _check_eval_inputs(model, eval_data)
    if metrics is None:
        if not model.compiled:
            raise ValueError(
                "Expected a compiled model or `metrics` to evaluate. "
                "Received: an uncompiled model and metrics=None"
            )
        return None
    if isinstance(metrics, (str, keras.metrics.Metric)):
        metrics = [metrics]
    out = []
    for m in metrics:
        try:
            if not (isinstance(m, str) and m in _COMPILE_NAMES):
                keras.metrics.get(m)
            out.append(m)
        except (ValueError, TypeError):
            raise ValueError(
                f"Expected metric names Keras knows (e.g. 'accuracy', 'mae')."
                f" Received: metric {m!r}"
            ) from None
    return out


def _check_eval_inputs(model: keras.Model, eval_data: Any) -> None:
    """Raises when `eval_data`'s inputs (arrays) do not fit the model's
    inputs, as calibration data would be refused (shape, dtype, NaN), so
    that the error comes before any work instead of from inside Keras."""
    x = eval_data[0] if isinstance(eval_data, tuple) else eval_data
    if not in_memory(x):
        return  # a dataset: checked as it streams
    try:
        Calibration(x, functional_graph(model))
    except (TypeError, ValueError) as error:
        message = re.sub("[Cc]alibration data", "data", str(error))
        raise type(error)(f"`eval_data` does not fit the model: {message}") from None


def check_thresholds(thresholds: Any) -> list[float]:
    """A non-empty list of thresholds in [0, 1] (for `sweep`)."""
    try:
        values = [float(t) for t in np.atleast_1d(thresholds)]
    except (TypeError, ValueError):
        raise TypeError(
            "Expected `thresholds` to be a list of numbers in [0, 1]. "
            f"Received: thresholds={thresholds!r}"
        ) from None
    if not values:
        raise ValueError(
            f"Expected at least one threshold. Received: thresholds={thresholds!r}"
        )
    for t in values:
        check_threshold(t)
    return values


def check_prune(
    model: keras.Model,
    quantile: Any,
    rounds: Any,
    fit_data: Any,
    epochs_per_round: Any,
) -> None:
    """Checks the options of `prune_by_activation`."""
    if (
        isinstance(quantile, bool)
        or not isinstance(quantile, numbers.Real)
        or not 0.0 < quantile < 1.0
    ):
        raise ValueError(
            f"Expected `quantile` in (0, 1). Received: quantile={quantile!r}"
        )
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(
            f"Expected `rounds` to be an int >= 1. Received: rounds={rounds!r}"
        )
    if epochs_per_round and fit_data is None:
        raise ValueError(
            "Expected `fit_data` to fine-tune on with `epochs_per_round`. "
            "Received: fit_data=None"
        )
    if epochs_per_round and not model.compiled:
        raise ValueError(
            "Expected a compiled model to fine-tune. Received: an "
            "uncompiled model with epochs_per_round="
            f"{epochs_per_round}"
        )


def check_objective_against(objective: str, spec: GraphSpec) -> None:
    """Raises unless the model's multiply-accumulates are known when they
    are the objective (they need static spatial sizes)."""
    if objective in ("macs", "latency") and spec.total_macs is None:
        raise ValueError(
            f"Expected static spatial sizes with objective={objective!r}: "
            "multiply-accumulates depend on them. Build the model with a "
            "fixed input shape (e.g. `keras.Input((224, 224, 3))`), or use "
            "objective='params'. Received: a model with unknown (None) "
            "spatial sizes"
        )


def check_finetune(
    small: keras.Model,
    original: keras.Model,
    data: Any,
    labels: Any,
    *,
    label_weight: Any,
    epochs: Any,
    batch_size: Any,
    learning_rate: Any,
    loss: Any,
    losses: tuple[str, ...],
    validation_split: Any,
    patience: Any,
) -> None:
    """Checks the arguments of `finetune` before any training (`loss`
    among `losses`, `distillation.DISTILLATION_LOSSES`)."""
    _check_same_signature(small, original)
    counts = (("epochs", epochs), ("batch_size", batch_size), ("patience", patience))
    for name, value in counts:
        if not _is_positive_int(value):
            raise ValueError(
                f"Expected `{name}` to be a positive int. Received: {name}={value!r}"
            )
    if not _is_real(learning_rate) or not 0 < learning_rate < 1:
        raise ValueError(
            "Expected `learning_rate` in (0, 1). "
            f"Received: learning_rate={learning_rate!r}"
        )
    if not _is_real(validation_split) or not 0 <= validation_split < 1:
        raise ValueError(
            "Expected `validation_split` in [0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    check_choice("loss", loss, losses)
    _check_training_data(data, labels)
    if labels is not None:
        if not _is_real(label_weight) or not 0 <= label_weight < 1:
            raise ValueError(
                "Expected `label_weight` in [0, 1) (the share of the label "
                f"loss). Received: label_weight={label_weight!r}"
            )
        if not original.compiled or original.loss is None:
            raise ValueError(
                "Expected a compiled original model with `labels`: its loss is "
                "the label loss. Received: an uncompiled original"
            )


def _check_same_signature(small: keras.Model, original: keras.Model) -> None:
    def shapes(tensors: Any) -> list[tuple]:
        return [tuple(t.shape) for t in keras.tree.flatten(tensors)]

    if shapes(small.inputs) != shapes(original.inputs) or shapes(
        small.outputs
    ) != shapes(original.outputs):
        raise ValueError(
            "Expected the compressed model and the original it was compressed "
            "from (same input and output shapes). Received: inputs "
            f"{shapes(small.inputs)} -> {shapes(small.outputs)} and "
            f"{shapes(original.inputs)} -> {shapes(original.outputs)}"
        )


def _check_training_data(data: Any, labels: Any) -> None:
    """Arrays (or a list / dict of them, or a DataFrame) of one length,
    `labels` too."""
    if is_dataframe(data):
        data = data.to_numpy()
    arrays = list(data.values()) if isinstance(data, dict) else data
    arrays = list(arrays) if isinstance(arrays, (list, tuple)) else [arrays]
    if not arrays or not all(isinstance(a, np.ndarray) for a in arrays):
        raise TypeError(
            "Expected `data` as NumPy arrays (a list or dict of them for "
            "several inputs) or a pandas DataFrame. Received: "
            f"{type(data).__name__}"
        )
    rows = {len(a) for a in arrays}
    if labels is not None:
        rows |= {len(a) for a in keras.tree.flatten(labels)}
    if len(rows) != 1 or 0 in rows:
        raise ValueError(
            "Expected `data` (and `labels`) with the same, non-zero number of "
            f"rows. Received: row counts {sorted(rows)}"
        )
