"""Checks of the model and the Keras backend, before any work.

They sit beside the graph they guard: every entry point (`measure`,
`apply`, `sweep`, `prune_by_activation`, `graph.nodes.functional_graph`)
calls `check_model` first, and the options that need TensorFlow call
`check_backend`. Errors name what was expected, then `Received: ...`.
"""

import keras

from keras_linprune.graph import keras_internals as internals

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
