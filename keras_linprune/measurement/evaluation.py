"""Evaluating models on held-out data (for sweeps and the metric guard).

Metric options are checked in `checks.check_metrics`.
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


#: Rows per batch when a built model is evaluated eagerly on arrays.
EAGER_BATCH_SIZE = 1024


def evaluate(model, eval_data, metrics, *, built_here=False):
    """Evaluates on `eval_data`: compiled metrics, or `metrics`.

    Args:
        model: The model to evaluate.
        eval_data: `(x, y)`, `(x, y, sample_weight)` or a dataset.
        metrics: Metric names or objects, or `None` for the model's
            compiled loss and metrics.
        built_here: `model` is a candidate this package built, evaluated
            once and thrown away (sweeps, the metric guard). It then runs
            eagerly, in batches of `EAGER_BATCH_SIZE` rows for arrays:
            tracing Keras' test step costs more than evaluating a small
            set, and happens for every new model.
    """
    import tensorflow as tf

    # Keras' eager distributed evaluation cannot sum replicas' uneven
    # shares of a batch: under a strategy, candidates are compiled too.
    built_here = built_here and not tf.distribute.has_strategy()
    if metrics is not None:
        # Keras resolves metric names ("accuracy") against the outputs at
        # compile time, and evaluate() needs a loss: a zero one is dropped.
        model = _evaluable(model)
        model.compile(loss=_zero_loss, metrics=list(metrics), run_eagerly=built_here)
    elif built_here:
        model.run_eagerly = True
    x, y, w = _unpack(eval_data)
    batch_size = EAGER_BATCH_SIZE if built_here and _arrays(x) else None
    try:
        result = model.evaluate(
            x, y, sample_weight=w, batch_size=batch_size, verbose=0, return_dict=True
        )
    finally:
        if metrics is None and built_here:
            model.run_eagerly = False
    if metrics is not None:
        result.pop("loss", None)
    return {
        k: float(v)
        for k, v in result.items()
        if isinstance(v, numbers.Number) or np.ndim(v) == 0
    }


def candidate_data(eval_data):
    """`eval_data` as the candidates of a sweep or a guard read it: `(x,
    y[, w])` arrays become one `tf.data.Dataset` of `EAGER_BATCH_SIZE`-row
    batches, built once (given arrays, Keras builds a dataset at every
    `evaluate`: 50 ms of each sweep row on 540 digits). Anything else, and
    anything under a `tf.distribute` strategy, is returned unchanged."""
    import tensorflow as tf

    x, y, w = _unpack(eval_data)
    leaves = keras.tree.flatten((x, y) if w is None else (x, y, w))
    plain = all(isinstance(v, (np.ndarray, tf.Tensor)) for v in leaves)
    if y is None or not plain or tf.distribute.has_strategy():
        return eval_data
    parts = (x, y) if w is None else (x, y, w)
    return tf.data.Dataset.from_tensor_slices(parts).batch(EAGER_BATCH_SIZE)


def _arrays(x):
    """Whether `x` is in-memory arrays (NumPy, tensors, or a structure of
    them), which `evaluate` batches itself."""
    return all(hasattr(leaf, "shape") for leaf in keras.tree.flatten(x))


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
