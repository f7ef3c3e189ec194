"""Evaluating models on held-out data (for sweeps and the metric guard).

Metric options are checked in `options.check_metrics`.
"""

import numbers

import keras
import numpy as np

#: Substrings of metric names where lower is better.
_LOWER_IS_BETTER = (
    "loss",
    "error",
    "crossentropy",
    "hinge",
    "divergence",
    "mse",
    "mae",
    "mape",
    "msle",
    "logcosh",
    "poisson",
    "huber",
)


def lower_is_better(name):
    """Whether a smaller value of metric `name` is better (losses, errors)."""
    return any(s in name.lower() for s in _LOWER_IS_BETTER)


def evaluate(model, eval_data, metrics):
    """Evaluates on `eval_data`: compiled metrics, or `metrics`."""
    if metrics is not None:
        # Keras resolves metric names ("accuracy") against the outputs at
        # compile time, and evaluate() needs a loss: a zero one is dropped.
        model = _evaluable(model)
        model.compile(loss=_zero_loss, metrics=list(metrics))
    x, y, w = _unpack(eval_data)
    if y is None:
        result = model.evaluate(x, verbose=0, return_dict=True)
    else:
        result = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    if metrics is not None:
        result.pop("loss", None)
    return {
        k: float(v)
        for k, v in result.items()
        if isinstance(v, numbers.Number) or np.ndim(v) == 0
    }


def _evaluable(model):
    """A model computing what `model` computes that may be compiled here
    without touching `model`: a wrapper sharing its layers, or, under a
    `tf.distribute` strategy (which compiles only variables created in its
    scope), a clone with the same weights whose variables it owns."""
    import tensorflow as tf

    if not tf.distribute.has_strategy():
        return keras.Model(model.inputs, model.outputs)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _zero_loss(y_true, y_pred):
    return keras.ops.zeros(keras.ops.shape(y_pred)[:1])


def _unpack(eval_data):
    if isinstance(eval_data, tuple) and 2 <= len(eval_data) <= 3:
        return (*eval_data, None)[:3]
    return eval_data, None, None
