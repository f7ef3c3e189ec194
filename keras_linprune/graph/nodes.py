"""Walking the functional graph of a Keras model.

Built on `keras_internals` and the public attributes of nodes
(`operation`, `input_tensors`, `outputs`), so that the rest of the package
walks graphs one way.
"""

import collections

import keras

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph.model_checks import check_model

ordered_nodes = internals.ordered_nodes


def functional_graph(model):
    """Returns the functional graph (a `keras.Model`) that `model` runs.

    Args:
        model: A functional `keras.Model` or a built `keras.Sequential`.

    Returns:
        The model itself when it is functional; for a `Sequential`, the
        functional model it wraps.

    Raises:
        TypeError: If `model` is not a Keras 3 model.
        ValueError: If `model` is subclassed or an unbuilt `Sequential`.

    Example:

    >>> import keras
    >>> seq = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> len(ordered_nodes(functional_graph(seq)))
    1
    """
    check_model(model)
    if isinstance(model, keras.Sequential):
        fn = internals.sequential_graph(model)
        if fn is None and not model.layers:
            raise ValueError(
                "Expected a model with at least one layer: there is nothing to "
                f"compress. Received: Sequential model {model.name!r} with no "
                "layers (only an Input)"
            )
        if fn is None:
            raise ValueError(
                "The Sequential model is not built, so its graph is unknown. "
                "Start it with `keras.Input(shape)` or call it on data once. "
                f"Received: model={model.name!r}"
            )
        return fn
    return model


def consumers_by_tensor(nodes):
    """Maps `id(tensor)` to the nodes that read that tensor."""
    consumers = collections.defaultdict(list)
    for node in nodes:
        for tensor in node.input_tensors:
            consumers[id(tensor)].append(node)
    return consumers


def call_counts(nodes):
    """Maps `id(layer)` to the number of times it is called in the graph."""
    return collections.Counter(id(node.operation) for node in nodes)


def as_sequential(model):
    """`model` as a `keras.Sequential` when its graph is a chain (one input,
    every layer called once on the previous one's output), else `None`.

    The Sequential reuses `model`'s layers (the functional wrapper is
    dropped), so nothing is copied.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    previous = model.inputs[0]
    layers = []
    for node in ordered_nodes(model):
        ins = node.input_tensors
        if (
            len(ins) != 1
            or ins[0] is not previous
            or len(node.outputs) != 1
            or not isinstance(node.operation, keras.Layer)
        ):
            return None
        layers.append(node.operation)
        previous = node.outputs[0]
    if previous is not model.outputs[0]:
        return None
    first = model.inputs[0]
    source, _, _ = internals.tensor_history(first)
    start = keras.Input(batch_shape=first.shape, dtype=first.dtype, name=source.name)
    internals.rename_tensor(start, first.name)  # the serving signature's key
    return keras.Sequential([start, *layers], name=model.name)


def params_of(operation):
    """Parameters of a layer; 0 for an operation that is not a layer."""
    count = getattr(operation, "count_params", None)
    return count() if count is not None and operation.built else 0


def tensor_key(tensor, call=0):
    """A readable key for a tensor: its producing layer's name, with the
    call (`call`: which call of the layer *in this graph*, not Keras'
    global node index, which grows each time a model is loaded or rebuilt)
    and output index appended when not 0, e.g. `"encoder_1"`."""
    layer, _, tensor_index = internals.tensor_history(tensor)
    key = layer.name
    if call:
        key += f"_{call}"
    if tensor_index:
        key += f"_{tensor_index}"
    return key


def new_inputs(fn):
    """Fresh `keras.Input`s like `fn`'s: their input layers named like
    `fn`'s, the tensors too (an unnamed `keras.Input` has a layer
    `input_layer` and a tensor `keras_tensor`; exports name the serving
    signature's inputs after the tensors, so a TF Serving request to the
    original fits the compressed model).

    Returns:
        `{id(original input): new input}`.
    """
    tensors = {}
    for t in fn.inputs:
        layer, _, _ = internals.tensor_history(t)
        new = keras.Input(
            batch_shape=t.shape, dtype=t.dtype, sparse=t.sparse, name=layer.name
        )
        internals.rename_tensor(new, t.name)
        tensors[id(t)] = new
    return tensors


def new_model(fn, tensors, name):
    """A `keras.Model` over the new tensors that replace `fn`'s inputs and
    outputs, with `fn`'s input and output nesting."""
    inputs = internals.pack_inputs(fn, [tensors[id(t)] for t in fn.inputs])
    outputs = internals.pack_outputs(fn, [tensors[id(t)] for t in fn.outputs])
    return keras.Model(inputs, outputs, name=name)
