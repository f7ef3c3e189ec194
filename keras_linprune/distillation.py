"""Recovering accuracy after lossy folding: distillation fine-tuning.

`finetune(small, original, data)` trains a copy of the compressed model to
reproduce the original's outputs on `data` (no labels needed: the original
is the teacher), optionally mixed with a label loss. It trains with
`Model.fit` on a wrapper that shares the copy's layers, so the result is
the same plain Keras model (built-in layers, the compressed model's name
and compile config), and it runs wherever `fit` runs: TensorFlow (under a
`tf.distribute` strategy too) and JAX.
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras
import numpy as np

from keras_linprune import checks
from keras_linprune.graph.model_checks import check_model
from keras_linprune.measurement import replicas
from keras_linprune.measurement.data import is_dataframe

#: Distillation losses by name; `"auto"` picks per output (`_auto_loss`).
DISTILLATION_LOSSES = ("auto", "kl_divergence", "mse")


def finetune(
    small: keras.Model,
    original: keras.Model,
    data: Any,
    *,
    labels: Any = None,
    label_weight: float = 0.5,
    epochs: int = 2,
    batch_size: int = 32,
    learning_rate: float = 1e-4,
    loss: str = "auto",
    validation_split: float = 0.1,
    patience: int = 1,
    strategy: Any = None,
    verbose: str | int = "auto",
) -> tuple[keras.Model, keras.callbacks.History]:
    """Fine-tunes a compressed model to match the original (distillation).

    The compressed model is copied (neither model is modified); the copy
    learns the original's outputs on `data` at a low learning rate, with
    early stopping on a held-out part of `data`, and comes back with the
    best weights seen.

    Args:
        small: The compressed model (from `keras_linprune.apply`).
        original: The model it was compressed from: the teacher.
        data: Training inputs as NumPy arrays (a list or dict of arrays for
            several inputs) or a pandas DataFrame. Labels are not needed.
        labels: Optional targets for `data`, mixed in with weight
            `label_weight` through the original's compiled loss (the
            original must then be compiled).
        label_weight: Share of the label loss in `[0, 1)` when `labels` are
            given (the distillation loss has `1 - label_weight`).
        epochs: Passes over `data` (at most: early stopping may end first).
        batch_size: Rows per training step.
        learning_rate: Adam's learning rate; low, as the weights start close
            to a good solution.
        loss: `"auto"` (per output: the KL divergence between probability
            outputs, such as a softmax's, else the mean squared error), or
            `"kl_divergence"` / `"mse"` for every output.
        validation_split: Fraction of `data` held out for early stopping
            (0: no early stopping, every epoch runs).
        patience: Epochs without improvement of the held-out loss before
            stopping.
        strategy: A `tf.distribute.Strategy` to train under (default: the
            one in scope, if any): the copy is made in its scope.
        verbose: As in `Model.fit`: `"auto"`/1 a progress bar, 2 one line
            per epoch, 0 silent.

    Returns:
        `(model, history)`: the fine-tuned copy and `fit`'s `History`
        (`history.history["loss"]`, `"val_loss"`, ...).

    Raises:
        TypeError / ValueError: For arguments of the wrong type or range,
            models whose inputs or outputs differ, labels without a compiled
            original, or data of the wrong length; before any training.

    Example:

    ```python
    small, report = linprune.apply(model, x_calib, threshold=0.8, refit=True)
    small, history = linprune.finetune(small, model, x_train, epochs=2)
    ```
    """
    check_model(small)
    check_model(original)
    checks.check_finetune(
        small,
        original,
        data,
        labels,
        label_weight=label_weight,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        loss=loss,
        losses=DISTILLATION_LOSSES,
        validation_split=validation_split,
        patience=patience,
    )
    checks.check_strategy(strategy)
    verbose = checks.check_verbose(verbose)
    x = _as_inputs(data)
    teacher = _as_list(original.predict(x, batch_size=batch_size, verbose=0))
    losses = [_auto_loss(t) if loss == "auto" else loss for t in teacher]
    targets = teacher + ([] if labels is None else _as_list(labels))
    with_labels = labels is not None
    strategy = replicas.active_strategy(strategy)
    with strategy.scope() if strategy else contextlib.nullcontext():
        student, trainer = _trainer(small, with_labels)
        _compile(trainer, original, losses, with_labels, label_weight, learning_rate)
    callbacks = []
    if validation_split:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        )
    history = trainer.fit(
        x,
        tuple(targets),
        epochs=epochs,
        batch_size=batch_size,
        validation_split=validation_split,
        callbacks=callbacks,
        shuffle=True,
        verbose=verbose,
    )
    config = small.get_compile_config() if small.compiled else None
    if config:
        student.compile_from_config(config)
    return student, history


def distillation_loss(
    student: keras.Model, teacher: keras.Model, data: Any, loss: str = "auto"
) -> float:
    """The mean distillation loss of `student` against `teacher` on `data`
    (the quantity `finetune` minimises, summed over outputs)."""
    x = _as_inputs(data)
    targets = _as_list(teacher.predict(x, verbose=0))
    outputs = _as_list(student.predict(x, verbose=0))
    total = 0.0
    for t, s in zip(targets, outputs):
        fn = keras.losses.get(_auto_loss(t) if loss == "auto" else loss)
        total += float(keras.ops.mean(fn(t, s)))
    return total


def _as_inputs(data):
    if is_dataframe(data):
        return data.to_numpy(dtype="float32")
    return data


def _as_list(outputs):
    if isinstance(outputs, dict):
        return [np.asarray(outputs[k]) for k in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(o) for o in outputs]
    return [np.asarray(outputs)]


def _auto_loss(teacher_outputs):
    """KL divergence for rows of probabilities (non-negative, summing to 1:
    a softmax), else the mean squared error."""
    t = np.asarray(teacher_outputs, np.float64)
    if t.ndim >= 2 and t.shape[-1] > 1 and t.min() >= 0:
        if np.allclose(t.sum(axis=-1), 1.0, atol=1e-4):
            return "kl_divergence"
    return "mse"


def _trainer(small, with_labels):
    """A copy of `small` and a model over its layers whose outputs are the
    copy's, twice when labels mix in (the second set through `Identity`
    layers). Called in the strategy's scope, if any."""
    student = keras.models.clone_model(small)
    student.set_weights(small.get_weights())
    outputs = list(keras.tree.flatten(student.outputs))
    heads = [
        keras.layers.Identity(name=f"labels_{i}")(o) for i, o in enumerate(outputs)
    ]
    return student, keras.Model(
        student.inputs, outputs + (heads if with_labels else [])
    )


def _compile(trainer, original, losses, with_labels, label_weight, learning_rate):
    """Distillation losses on the first outputs; with labels, the
    original's compiled loss on the `Identity` heads."""
    n = len(losses)
    all_losses, weights = list(losses), [1.0] * n
    if with_labels:
        label_loss = original.loss
        label_losses = label_loss if isinstance(label_loss, list) else [label_loss] * n
        weights = [1.0 - label_weight] * n + [label_weight] * n
        all_losses += list(label_losses)
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=all_losses,
        loss_weights=weights,
    )
