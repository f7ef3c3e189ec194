"""The one module that touches private Keras attributes.

Keras keeps the graph of a functional model as `Node`s grouped by depth
(`keras/src/ops/function.py`), the nested structure of its inputs and
outputs, and each symbolic tensor's history as private attributes. Every
read of such an attribute in this package goes through a function below, so
that a Keras upgrade that renames one breaks here and nowhere else
(`tests/graph/keras_boundary_test.py` enforces it).

Tested with Keras 3.15; the attributes used exist since Keras 3.0.
"""

import contextlib
import logging
import warnings

import keras
import numpy as np


def is_functional(model):
    """Whether `model` has an inspectable functional graph."""
    return hasattr(model, "_nodes_by_depth")


def sequential_graph(model):
    """The functional model a built `Sequential` wraps, or `None`."""
    return getattr(model, "_functional", None)


def ordered_nodes(fn):
    """The call nodes of `fn` in topological order (inputs excluded).

    The same order in which `keras/src/ops/function.py` runs the graph.
    """
    nodes = []
    for depth in sorted(fn._nodes_by_depth, reverse=True):
        for node in fn._nodes_by_depth[depth]:
            if node.operation is not None and not node.is_input:
                nodes.append(node)
    return nodes


def tensor_history(tensor):
    """`(layer, node_index, tensor_index)` that produced a symbolic tensor."""
    history = tensor._keras_history
    return history.operation, history.node_index, history.tensor_index


def pack_inputs(fn, flat):
    """`flat` tensors in the nesting of `fn`'s inputs (a dict, list, ...)."""
    return keras.tree.pack_sequence_as(fn._inputs_struct, list(flat))


def pack_outputs(fn, flat):
    """`flat` tensors in the nesting of `fn`'s outputs."""
    return keras.tree.pack_sequence_as(fn._outputs_struct, list(flat))


def inputs_structure(fn):
    """The nesting of `fn`'s inputs (a tensor, list or dict of tensors)."""
    return fn._inputs_struct


def call_like(node, layer, tensors):
    """Calls `layer` as `node` called its layer, on new tensors.

    Args:
        node: A node of an original graph.
        layer: The layer to call (a copy of `node.operation`).
        tensors: Mapping from `id(original tensor)` to new tensors; every
            other argument of the call (training flags, masks given as
            constants, keyword options) is passed as recorded.
    """
    args, kwargs = node.arguments.fill_in(tensors)
    return layer(*args, **kwargs)


def call_arguments(node, tensors):
    """The positional arguments of `node`'s call, filled with `tensors`."""
    args, _ = node.arguments.fill_in(tensors)
    return args


def lambda_output_shape(layer):
    """The `output_shape` a `keras.layers.Lambda` was created with."""
    return layer._output_shape


def copy_state(source, target):
    """Copies every variable and asset of `source` and its sub-layers into
    `target` (built, same config), exactly as saving `source` to a `.keras`
    file and loading the file into `target` would.

    `set_weights` is not enough: an adapted `Normalization` caches its
    statistics when they are loaded, and lookup layers keep their tables as
    assets. This uses Keras' own saving walk with an in-memory weights
    store and a temporary assets folder.
    """
    from keras.src.saving import saving_lib

    class Copies(dict):
        # Values stored as NumPy copies: on JAX, assigning a variable's own
        # value would share its buffer, which `predict` may donate (delete).
        def __setitem__(self, key, value):
            super().__setitem__(key, np.array(to_numpy(value)))

    class MemoryStore(saving_lib.NpzIOStore):
        def __init__(self):
            self.contents, self.mode, self.archive = {}, "w", None

        def make(self, path, metadata=None):
            self.contents[path or "__root__"] = Copies()
            return self.contents[path or "__root__"]

        def get(self, path):
            return self.contents.get(path or "__root__", {})

        def close(self):
            pass

    weights = MemoryStore()
    written = saving_lib.DiskIOStore("assets", mode="w")
    try:
        saving_lib._save_state(source, weights, written, "", visited_saveables=set())
        read = saving_lib.DiskIOStore(written.working_dir, mode="r")
        saving_lib._load_state(target, weights, read, "", visited_saveables=set())
    finally:
        written.close()


def keep_tensor_list_ops(converter):
    """Tells a TFLite converter not to lower TensorList ops (what recurrent
    layers need with TensorFlow select ops); a private TensorFlow flag, so
    it lives here with the other internals."""
    converter._experimental_lower_tensor_list_ops = False


def arithmetic_op_classes():
    """The `keras.ops` classes that `x + c`, `x - c`, `x * c`, `x / c` and
    `-x` on a symbolic tensor record as graph nodes, by name."""
    from keras.src.ops import numpy as numpy_ops

    names = ("Add", "Subtract", "Multiply", "TrueDivide", "Divide", "Negative")
    return {name: getattr(numpy_ops, name) for name in names}


def only_call(operation):
    """The one call node of `operation` (an op on symbolic tensors is made
    anew at each call), or `None` if it was called more than once."""
    nodes = getattr(operation, "_inbound_nodes", [])
    return nodes[0] if len(nodes) == 1 else None


@contextlib.contextmanager
def zero_initialized(layers):
    """Builds `layers` (inside the block) with zero initializers, restoring
    the configured ones afterwards, so `get_config` and saving see the
    originals. For layers whose every weight is set right after building:
    drawing random kernels to overwrite them cost ~10 ms per million
    weights (a fifth of rebuilding the 2.8M MLP). Swaps each attribute
    named `*_initializer` holding a `keras.initializers.Initializer`."""
    saved = []
    for layer in layers:
        for name, value in vars(layer).items():
            if name.endswith("_initializer") and isinstance(
                value, keras.initializers.Initializer
            ):
                saved.append((layer, name, value))
    zeros = keras.initializers.Zeros()
    try:
        for layer, name, _ in saved:
            setattr(layer, name, zeros)
        yield
    finally:
        for layer, name, value in saved:
            setattr(layer, name, value)


def rename_tensor(tensor, name):
    """Gives a symbolic `KerasTensor` the name `name` (Keras names an
    `Input`'s tensor after its layer, or `keras_tensor_<n>` when unnamed;
    the name is a plain attribute, read by exports for signature keys)."""
    tensor.name = name


def rename_layer(layer, name):
    """Names an unbuilt layer `name` (for a layer whose `__init__` takes no
    `name`; its variables, created at build, take their paths from it)."""
    layer.name = name


#: NumPy 2 warns when it converts a Keras (or TensorFlow) variable, whose
#: `__array__` takes no `copy` keyword; the conversion itself is right.
_COPY_KEYWORD = r"__array__ implementation doesn't accept a copy keyword"


def to_numpy(value):
    """`keras.ops.convert_to_numpy(value)` (a variable or a tensor) without
    NumPy 2's `DeprecationWarning` about Keras variables' `__array__`, which
    users would see once per weight."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _COPY_KEYWORD, DeprecationWarning)
        return keras.ops.convert_to_numpy(value)


#: What TensorFlow logs when many `tf.function`s are traced in a row: each
#: model measured, evaluated or refitted here traces its own, by design.
_RETRACING = "triggered tf.function retracing"


class _DropRetracing:
    """A `logging` filter dropping TensorFlow's retracing warnings."""

    def filter(self, record):
        return _RETRACING not in record.getMessage()


@contextlib.contextmanager
def quiet_retracing():
    """Within it, TensorFlow's "N out of the last N calls ... triggered
    tf.function retracing" warnings are not logged: compressing several
    models in one process traces one function per model, which is no
    mistake of the user's. Other messages pass."""
    logger = logging.getLogger("tensorflow")
    drop = _DropRetracing()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
