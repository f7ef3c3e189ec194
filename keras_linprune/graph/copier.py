"""Faithful copies of layers for a new graph: no object shared with the original.

A layer is re-created from its config and, once built on the new tensors,
given the original's state through Keras' own saving protocol
(`save_own_variables` / `load_own_variables` and assets, for the layer and
its sub-layers): whatever survives `model.save` survives the copy, including
an adapted `Normalization`'s statistics and a lookup layer's table. A layer
called at several nodes maps to one copy, so sharing is preserved.

Operations that are not layers (`x + 1.0`, `keras.ops.*` on symbolic
tensors, mask computations) are re-created from their config too; they hold
no state.

A custom layer whose `__init__` takes no `**kwargs` (so that `from_config`
fails on the base keys `name`, `trainable`, `dtype`) is re-created from the
config keys its `__init__` names. A layer that cannot be re-created from its
config (a custom layer without a working `get_config`) is refused by
`check_copyable` before any work, with how to fix it: sharing it would let
training the compressed model change the original."""

import inspect

import keras

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import nodes as nodes_lib


class LayerCopier:
    """Calls fresh copies of a graph's operations on new tensors."""

    def __init__(self):
        self._copies = {}

    def call(self, node, tensors, *, name=None, weights=None):
        """Applies the copy of `node.operation` to the new `tensors`.

        Args:
            node: A node of the original graph.
            tensors: Mapping from `id(original tensor)` to new tensors.
            name: Name of the copy (default: the layer's).
            weights: Weights for the copy, replacing the layer's state
                (a narrowed activation's per-channel weights).

        Returns:
            The copy's outputs.
        """
        operation = node.operation
        copy = self._copies.get(id(operation))
        first_call = copy is None
        if first_call:
            copy = fresh_copy(operation, name or operation.name)
            self._copies[id(operation)] = copy
        restored = first_call and isinstance(operation, keras.Layer)
        # A copy's every weight is set or restored right after its build.
        with internals.zero_initialized([copy] if restored else []):
            out = internals.call_like(node, copy, tensors)
        if restored:
            if weights is not None:
                copy.set_weights(weights)
            elif operation.weights or hasattr(operation, "save_assets"):
                internals.copy_state(operation, copy)
        return out


def fresh_copy(operation, name):
    """A new, unbuilt operation like `operation`, named `name`.

    A `Lambda` gets the same Python function (re-creating it from its config
    would need unsafe deserialization); anything else comes from its config.

    Raises:
        ValueError: If the operation cannot be re-created from its config.
    """
    if type(operation) is keras.layers.Lambda:
        return keras.layers.Lambda(
            operation.function,
            output_shape=internals.lambda_output_shape(operation),
            mask=operation.mask,
            arguments=operation.arguments,
            name=name,
        )
    try:
        config = operation.get_config()
        config["name"] = name
        try:
            return operation.__class__.from_config(config)
        except TypeError:
            # A custom `__init__` without `**kwargs` (keras.io's
            # `TokenAndPositionEmbedding`) rejects the base keys (`name`,
            # `trainable`, `dtype`) that `get_config` adds.
            copy = _from_accepted_keys(operation.__class__, config)
            if copy is None:
                raise
            return copy
    except Exception as e:  # noqa: BLE001 - any failure: cannot re-create
        kind = type(operation).__name__
        raise ValueError(
            f"Expected every layer to be re-creatable from its config, so that "
            f"the compressed model shares nothing with the original. Layer "
            f"'{operation.name}' ({kind}) is not: implement `get_config()` "
            f"returning its constructor arguments (and `from_config` if they "
            f"are not plain values), and register the class with "
            f"`@keras.saving.register_keras_serializable()` so that the saved "
            f"model reloads. Received: {type(e).__name__}: {e}"
        ) from None


def _from_accepted_keys(cls, config):
    """`cls` built from the config keys its `__init__` names, then given
    the config's name, trainability and dtype policy; `None` when its
    `__init__` takes `**kwargs` (then the keys were not the problem)."""
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    copy = cls(**{k: v for k, v in config.items() if k in parameters})
    internals.rename_layer(copy, config["name"])
    copy.trainable = config.get("trainable", copy.trainable)
    if "dtype" in config and "dtype" not in parameters:
        copy.dtype_policy = keras.dtype_policies.get(config["dtype"])
    return copy


def check_copyable(fn):
    """Raises `ValueError` (see `fresh_copy`) for the first operation of the
    functional graph `fn`, nested models included, that cannot be copied."""
    for node in nodes_lib.ordered_nodes(fn):
        operation = node.operation
        if isinstance(operation, keras.Model) and internals.is_functional(operation):
            check_copyable(operation)
        elif isinstance(operation, keras.Sequential):
            check_copyable(nodes_lib.functional_graph(operation))
        else:
            fresh_copy(operation, operation.name)
