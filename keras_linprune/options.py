"""Every option, its default and its check, in one place.

`Options` holds the options of `apply` and validates them when it is
created; `check_*` functions check the arguments of the other entry points
(`measure`, `sweep`, `prune_by_activation`). Every check runs before any
work is done, and every error names what was expected, then `Received:
name=value`, in the style of Keras' own messages.
"""

import dataclasses
import math
import numbers

import keras
import numpy as np

from keras_linprune.graph import keras_internals as internals
from keras_linprune.plan import policies
from keras_linprune.plan.decisions import (
    LAYER_THRESHOLD_STRINGS,
    OBJECTIVES,
    SHORTCUT_FORMS,
)

#: Keras backends the package runs on (measurement compiles its pass with
#: `tf.function` or `jax.jit`).
BACKENDS = ("tensorflow", "jax")


def check_backend(needs_tensorflow=None):
    """Raises unless Keras runs on a supported backend, or on TensorFlow
    when `needs_tensorflow` names a feature that needs it."""
    backend = keras.backend.backend()
    if needs_tensorflow and backend != "tensorflow":
        raise RuntimeError(
            f"{needs_tensorflow} needs the TensorFlow backend of Keras. Set "
            "KERAS_BACKEND=tensorflow before importing keras. Received: "
            f"backend={backend!r}"
        )
    if backend not in BACKENDS:
        raise RuntimeError(
            "keras_linprune runs on the TensorFlow or JAX backend of Keras. Set "
            "KERAS_BACKEND=tensorflow (or jax) before importing keras. "
            f"Received: backend={backend!r}"
        )


def check_model(model):
    """Raises unless `model` is a functional or Sequential Keras 3 model."""
    check_backend()
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Expected a Keras 3 `keras.Model` (functional or Sequential). "
            f"Received: model={model!r} of type {type(model).__name__}"
        )
    if isinstance(model, keras.Sequential):
        return
    if not internals.is_functional(model):
        raise ValueError(
            "Subclassed models have no inspectable graph, so their layers "
            "cannot be folded. Build the same network with the functional "
            "API (`inputs = keras.Input(...)`, call each layer, "
            "`keras.Model(inputs, outputs)`), reusing your trained layers. "
            f"Received: model={model.name!r} of type {type(model).__name__}"
        )


def check_threshold(threshold):
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


def check_layer_threshold(layer_threshold):
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


def check_target(threshold, target_size, target_params, target_step):
    """Validates size-target options; returns the policy (or `None`).

    A target chooses the threshold, so it cannot be combined with one;
    `target_size` and `target_params` are alternatives; `target_step`
    (prototype search) needs `target_size`.
    """
    if target_size is None and target_params is None:
        if target_step is not None:
            raise ValueError(
                "Expected `target_step` only together with `target_size`. "
                f"Received: target_step={target_step!r} without a target"
            )
        return None
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
        return policies.SizeTarget(params=int(target_params))
    if (
        isinstance(target_size, bool)
        or not isinstance(target_size, numbers.Real)
        or not 0.0 < target_size <= 1.0
    ):
        raise ValueError(
            "Expected `target_size` in (0, 1], a fraction of the original "
            f"parameter count. Received: target_size={target_size!r}"
        )
    if target_step is None:
        return policies.SizeTarget(fraction=float(target_size))
    if (
        isinstance(target_step, bool)
        or not isinstance(target_step, numbers.Real)
        or not 0.0 < target_step < 1.0
    ):
        raise ValueError(
            f"Expected `target_step` in (0, 1). Received: target_step={target_step!r}"
        )
    return policies.StepSearch(float(target_size), float(target_step))


def check_guard(max_metric_drop, eval_data, threshold, target):
    """Validates the metric guard's options (`max_metric_drop` may be
    `None`: no guard)."""
    if max_metric_drop is None:
        return
    if (
        isinstance(max_metric_drop, bool)
        or not isinstance(max_metric_drop, numbers.Real)
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
    if threshold is not None or target:
        raise ValueError(
            "Expected one way of choosing the threshold: `threshold`, a size "
            "target or `max_metric_drop`. Received: max_metric_drop with "
            f"threshold={threshold!r}, target={target or None}"
        )


def check_ridge(ridge):
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


def check_flag(name, value):
    """Raises unless `value` is a bool."""
    if not isinstance(value, bool):
        raise TypeError(
            f"Expected `{name}` to be True or False. Received: {name}={value!r}"
        )
    return value


def check_choice(name, value, choices):
    """Raises unless `value` is one of `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {', '.join(map(repr, choices))}. "
            f"Received: {name}={value!r}"
        )
    return value


def _is_positive_int(value):
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Integral)
        and value >= 1
    )


def check_batch_size(batch_size):
    """Raises unless `batch_size` is None or a positive int."""
    if batch_size is None:
        return None
    if not _is_positive_int(batch_size):
        raise ValueError(
            "Expected `batch_size` to be None or a positive int. "
            f"Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def check_strategy(strategy):
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


def check_steps(steps):
    """Raises unless `steps` (batches per pass) is None or a positive int."""
    if steps is None:
        return None
    if not _is_positive_int(steps):
        raise ValueError(
            "Expected `steps` to be None or a positive int (the number of "
            f"batches to read). Received: steps={steps!r}"
        )
    return int(steps)


def check_verbose(verbose):
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


def check_metrics(model, eval_data, metrics):
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


def check_thresholds(thresholds):
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


def check_prune(model, quantile, rounds, fit_data, epochs_per_round):
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


def _has_moments(data):
    """Whether `data` is `ActivationStats` holding second moments."""
    return getattr(data, "moments", None) is not None


def _describe_data(data):
    from keras_linprune.measurement.stats import ActivationStats

    if isinstance(data, ActivationStats):
        return "ActivationStats without second moments"
    return type(data).__name__


def _has_data(data):
    """Whether `data` is calibration data (not stats, not `None`)."""
    from keras_linprune.measurement.stats import ActivationStats

    return data is not None and not isinstance(data, ActivationStats)


def check_objective_against(objective, spec):
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


@dataclasses.dataclass(frozen=True)
class Options:
    """The options of `apply`, with their defaults (see `apply` for what
    each means). Created once per call; the constructor checks every
    option that needs nothing but the options, `check_against` the ones
    that need the model or the data.

    Example:

    >>> Options(threshold=0.9).policy()
    FixedThreshold(threshold=0.9)
    >>> Options(threshold=1.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected `threshold` to be in [0, 1] ... Received: threshold=1.5
    """

    threshold: float = None
    layer_threshold: object = "optimal"
    remove_dead: bool = True
    shortcut: str = "auto"
    objective: str = "params"
    target_size: float = None
    target_params: int = None
    target_step: float = None
    max_metric_drop: float = None
    eval_data: object = None
    metric: object = "accuracy"
    refit: bool = False
    ridge: float = 1e-6
    certify: bool = False
    input_box: object = None
    batch_size: int = None
    steps: int = None
    strategy: object = None
    verbose: object = "auto"

    def __post_init__(self):
        target = check_target(
            self.threshold, self.target_size, self.target_params, self.target_step
        )
        check_guard(self.max_metric_drop, self.eval_data, self.threshold, target)
        check_flag("certify", self.certify)
        check_flag("refit", self.refit)
        certify = self.certify or self.input_box is not None
        if certify and (
            self.threshold is not None or target or self.guarded or self.refit
        ):
            raise ValueError(
                "Expected `certify` alone: certified folding uses only "
                "proven neurons (threshold 1.0 on the box). Received: "
                "certify with threshold, a target, a metric guard or refit"
            )
        if self.refit:
            check_ridge(self.ridge)
        if self.objective == "latency":
            check_backend(needs_tensorflow="objective='latency' (its calibration)")
        threshold = 1.0 if self.threshold is None else self.threshold
        self._set(
            _target=target,
            certify=certify,
            _threshold=check_threshold(threshold),
            layer_threshold=check_layer_threshold(self.layer_threshold),
            remove_dead=check_flag("remove_dead", self.remove_dead),
            shortcut=check_choice("shortcut", self.shortcut, SHORTCUT_FORMS),
            objective=check_choice("objective", self.objective, OBJECTIVES),
            batch_size=check_batch_size(self.batch_size),
            steps=check_steps(self.steps),
            strategy=check_strategy(self.strategy),
            verbose=check_verbose(self.verbose),
        )

    def _set(self, **values):
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def check_against(self, model, data):
        """The checks that need the model or the calibration data."""
        if self.guarded:
            check_metrics(model, self.eval_data, [self.metric])
        if self.certify and self.input_box is None and not _has_data(data):
            raise ValueError(
                "Expected an `input_box` or the calibration data (for its "
                "min/max) with `certify=True`. Received: "
                f"{type(data).__name__}"
            )
        if self.refit and not _has_data(data) and not _has_moments(data):
            raise ValueError(
                "Expected the calibration data, or statistics measured with "
                "`moments=True`, with `refit=True`: the least squares needs "
                f"one or the other. Received: {_describe_data(data)}"
            )

    def check_analysis(self, analysis):
        """The checks that need the analysed model, before measuring."""
        check_objective_against(self.objective, analysis.spec)

    @property
    def guarded(self):
        """Whether a metric guard chooses the threshold."""
        return self.max_metric_drop is not None

    @property
    def plan_options(self):
        """Options of `plan.decisions.make_plan` other than the threshold."""
        return dict(
            layer_threshold=self.layer_threshold,
            remove_dead=self.remove_dead,
            shortcut=self.shortcut,
            objective=self.objective,
            latency=self._latency_model(),
        )

    def _latency_model(self):
        """The calibrated `LatencyModel` of `objective="latency"` (measured
        once per machine and cached), else `None`."""
        if self.objective != "latency":
            return None
        from keras_linprune.measurement.latency_model import latency_model

        return latency_model()

    def policy(self, guard=None):
        """The threshold policy: a size target or step search when given,
        the metric guard `guard` (built by the caller, who can score
        plans) when guarded, else the fixed threshold."""
        if self.guarded:
            return guard
        return self._target or policies.FixedThreshold(self._threshold)
