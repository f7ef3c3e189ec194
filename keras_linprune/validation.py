"""Checks on user input, raised before any work is done.

Every error names what was expected, then `Received: name=value`, in the
style of Keras' own messages.
"""

import math
import numbers

import keras

from keras_linprune.plan import LAYER_THRESHOLD_STRINGS


def check_backend():
    """Raises unless Keras runs on TensorFlow (measurement uses tf.function)."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            "keras_linprune needs the TensorFlow backend of Keras. Set "
            "KERAS_BACKEND=tensorflow before importing keras. Received: "
            f"backend={backend!r}"
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
    if not hasattr(model, "_nodes_by_depth"):
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
    """Validates size-target options; returns them as a dict (or `{}`).

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
        return {}
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
        if (isinstance(target_params, bool)
                or not isinstance(target_params, numbers.Integral)
                or target_params < 1):
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
        return {"target_params": int(target_params)}
    if (isinstance(target_size, bool)
            or not isinstance(target_size, numbers.Real)
            or not 0.0 < target_size <= 1.0):
        raise ValueError(
            "Expected `target_size` in (0, 1], a fraction of the original "
            f"parameter count. Received: target_size={target_size!r}"
        )
    out = {"target_size": float(target_size)}
    if target_step is not None:
        if (isinstance(target_step, bool)
                or not isinstance(target_step, numbers.Real)
                or not 0.0 < target_step < 1.0):
            raise ValueError(
                "Expected `target_step` in (0, 1). "
                f"Received: target_step={target_step!r}"
            )
        out["target_step"] = float(target_step)
    return out


def check_guard(max_metric_drop, eval_data, metric, threshold, target):
    """Validates the metric guard; returns its options as a dict (or `{}`)."""
    if max_metric_drop is None:
        return {}
    if (isinstance(max_metric_drop, bool)
            or not isinstance(max_metric_drop, numbers.Real)
            or max_metric_drop < 0 or math.isnan(max_metric_drop)):
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
    return dict(max_metric_drop=float(max_metric_drop), eval_data=eval_data,
                metric=metric)


def check_ridge(ridge):
    """Raises unless `ridge` is a finite number >= 0."""
    if (isinstance(ridge, bool) or not isinstance(ridge, numbers.Real)
            or not math.isfinite(ridge) or ridge < 0):
        raise ValueError(
            "Expected `ridge` to be a finite number >= 0. "
            f"Received: ridge={ridge!r}"
        )
    return float(ridge)


def check_flag(name, value):
    """Raises unless `value` is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"Expected `{name}` to be True or False. "
                        f"Received: {name}={value!r}")
    return value


def check_choice(name, value, choices):
    """Raises unless `value` is one of `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {', '.join(map(repr, choices))}. "
            f"Received: {name}={value!r}"
        )
    return value


def check_batch_size(batch_size):
    """Raises unless `batch_size` is None or a positive int."""
    if batch_size is None:
        return None
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(
            "Expected `batch_size` to be None or a positive int. "
            f"Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def check_verbose(verbose):
    """Raises unless `verbose` is "auto", 0, 1 or 2 (as in `Model.fit`)."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(
            'Expected `verbose` to be "auto", 0, 1 or 2. '
            f"Received: verbose={verbose!r}"
        )
    return int(verbose)
