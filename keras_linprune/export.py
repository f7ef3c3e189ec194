"""Shipping a (compressed) model: TF Serving, TFLite and ONNX files.

Every function checks its arguments before any work and writes atomically:
a SavedModel version folder is exported under a hidden temporary name and
renamed into place (TF Serving never sees a half-written version), a file
is written beside its target and renamed over it. Input and output names
are the model's own, so clients that call the original by name call the
compressed model the same way.

Example:

>>> import keras, tempfile, os
>>> x = keras.Input((4,), name="features")
>>> model = keras.Model(x, keras.layers.Dense(2, name="score")(x))
>>> base = tempfile.mkdtemp()
>>> path = export_saved_model(model, base)   # doctest: +ELLIPSIS
>>> os.path.relpath(path, base), sorted(os.listdir(path))[:1]
('1', ['assets'])
>>> rest_request(model, [[0.0, 1.0, 2.0, 3.0]])
{'instances': [[0.0, 1.0, 2.0, 3.0]]}
"""

import contextlib
import os
import shutil
import tempfile
import warnings

import keras
import numpy as np

from keras_linprune.files.atomic import atomic_path
from keras_linprune.files.inputs import FileProblem
from keras_linprune.files.outputs import check_writable
from keras_linprune.graph import keras_internals

#: TensorFlow Lite operator sets: "builtins" only, "select" (TensorFlow ops
#: too, e.g. for LSTM), or "auto" (builtins, then select if needed).
TFLITE_OPS = ("auto", "builtins", "select")


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected a keras.Model to export. Received: {type(model).__name__}"
        )


def export_saved_model(model, directory, version=None, *, overwrite=False):
    """Writes `model` in TF Serving's layout: `directory/<version>/`.

    Args:
        model: A `keras.Model`.
        directory: The model's base folder (TF Serving's `--model_base_path`);
            created if missing.
        version: Positive integer version; default: one above the highest
            existing numeric version (1 in an empty folder).
        overwrite: Replace an existing version folder.

    Returns:
        The version folder's path. Its `serving_default` signature takes and
        returns the model's input and output names.
    """
    _check_model(model)
    version = _check_version(directory, version)
    target = os.path.join(os.fspath(directory), str(version))
    if os.path.lexists(target) and not overwrite:
        raise FileProblem(
            f"version {version} exists in {directory}: {target} (pass "
            "overwrite=True, or --force on the command line, to replace it)"
        )
    os.makedirs(directory, exist_ok=True)
    with _staged_folder(target) as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
    return target


def _check_version(directory, version):
    if version is None:
        existing = _versions(directory)
        return max(existing, default=0) + 1
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)):
        raise TypeError(
            f"Expected `version` to be a positive integer. Received: {version!r}"
        )
    if version < 1:
        raise ValueError(
            f"Expected `version` to be a positive integer. Received: {version}"
        )
    return int(version)


def _versions(directory):
    """Numeric version folders in `directory` (none if it does not exist)."""
    if not os.path.isdir(directory):
        if os.path.lexists(directory):
            raise FileProblem(f"the SavedModel base path is not a folder: {directory}")
        return []
    return [
        int(name)
        for name in os.listdir(directory)
        if name.isdigit() and os.path.isdir(os.path.join(directory, name))
    ]


@contextlib.contextmanager
def _staged_folder(target):
    """A hidden temporary folder beside `target`, renamed to it when the
    block ends without an error (replacing an old one), removed otherwise."""
    parent, name = os.path.split(os.path.abspath(target))
    tmp = tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        if os.path.lexists(target):
            old = tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=parent)
            os.replace(target, os.path.join(old, name))
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def export_tflite(model, path, *, ops="auto", overwrite=False):
    """Converts `model` to a TensorFlow Lite flatbuffer at `path`.

    Args:
        model: A `keras.Model`.
        path: Output file ending in `.tflite`.
        ops: One of `TFLITE_OPS`. With "auto", TensorFlow ops are allowed
            only when the builtin conversion fails (recurrent layers need
            them; the interpreter must then include the Flex delegate).
        overwrite: Replace an existing file.

    Returns:
        The operator set used: "builtins" or "select".
    """
    _check_model(model)
    if ops not in TFLITE_OPS:
        raise ValueError(f"Expected `ops` to be one of {TFLITE_OPS}. Received: {ops!r}")
    check_writable(os.fspath(path), "TFLite", ".tflite", force=overwrite)
    import tensorflow as tf

    attempts = ["builtins", "select"] if ops == "auto" else [ops]
    for i, attempt in enumerate(attempts):
        try:
            content = _tflite_bytes(tf, model, select=attempt == "select")
            break
        except Exception:  # the converter raises several types
            if i == len(attempts) - 1:
                raise
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        file.write(content)
    return attempt


def _tflite_bytes(tf, model, select):
    """Converts through a SavedModel, so that the TFLite model has the
    `serving_default` signature with the model's input and output names."""
    with tempfile.TemporaryDirectory() as folder:
        model.export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if select:
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS,
                tf.lite.OpsSet.SELECT_TF_OPS,
            ]
            keras_internals.keep_tensor_list_ops(converter)
        return converter.convert()


def tflite_runner(path, signature="serving_default"):
    """A callable running signature `signature` of the TFLite file at
    `path`: `runner(**{input name: array})` -> `{output name: array}`.

    Uses the LiteRT interpreter (`ai_edge_litert`) when it is installed,
    else TensorFlow's `tf.lite.Interpreter` without its deprecation
    warning (it still ships with TensorFlow 2.21).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        interpreter = Interpreter(model_path=os.fspath(path))
    return interpreter.get_signature_runner(signature)


def export_onnx(model, path, *, opset=17, overwrite=False):
    """Converts `model` to ONNX at `path` (needs the `onnx` extra:
    `pip install "keras_linprune[onnx]"`, i.e. tf2onnx).

    The ONNX graph's inputs and outputs carry the model's input and output
    names; the batch axis is dynamic.

    Args:
        model: A `keras.Model`.
        path: Output file ending in `.onnx`.
        opset: ONNX opset version.
        overwrite: Replace an existing file.
    """
    _check_model(model)
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 9:
        raise ValueError(f"Expected `opset` to be an int >= 9. Received: {opset!r}")
    check_writable(os.fspath(path), "ONNX", ".onnx", force=overwrite)
    try:
        import tf2onnx
    except ImportError as e:
        raise ImportError(
            'ONNX export needs tf2onnx: pip install "keras_linprune[onnx]"'
        ) from e
    import tensorflow as tf

    spec = [
        tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=n)
        for t, n in zip(model.inputs, _input_names(model))
    ]

    def forward(*args):
        if len(args) == 1:
            return keras.tree.flatten(model(args[0]))
        return keras.tree.flatten(model(keras_internals.pack_inputs(model, args)))

    proto, _ = tf2onnx.convert.from_function(
        tf.function(forward), input_signature=spec, opset=opset
    )
    _rename_outputs(proto.graph, model.output_names)
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        file.write(proto.SerializeToString())


def _input_names(model):
    return [t.name for t in model.inputs]


def _rename_outputs(graph, names):
    """Gives the ONNX graph's outputs the model's output names."""
    for output, name in zip(graph.output, names):
        old = output.name
        for node in graph.node:
            node.output[:] = [name if o == old else o for o in node.output]
            node.input[:] = [name if i == old else i for i in node.input]
        output.name = name


def rest_request(model, rows):
    """The body of a TF Serving REST `predict` request for `rows`
    (`{"instances": [...]}`, one entry per row; a dict of named inputs per
    row for a model with several inputs).

    Args:
        model: The served `keras.Model` (for its input names).
        rows: An array (one input), or a list / dict of arrays (one per
            input, in `model.inputs` order or by name).
    """
    _check_model(model)
    names = _input_names(model)
    if isinstance(rows, dict):
        arrays = [np.asarray(rows[n]) for n in names]
    elif len(names) > 1:
        arrays = [np.asarray(r) for r in rows]
    else:
        return {"instances": np.asarray(rows).tolist()}
    return {
        "instances": [
            {n: a[i].tolist() for n, a in zip(names, arrays)}
            for i in range(len(arrays[0]))
        ]
    }
