"""CPU latency and file sizes: a model alone, or a compressed model beside
its original.

`latency(model)` times what a deployer runs, best of `repeats` after one
warm-up call: the compiled forward pass (the model's call as one
`tf.function` graph, as a serving signature runs it) at each batch size,
an eager call at batch 1, and optionally the TFLite
interpreter at batch 1. `compare(original, compressed)` puts both models
side by side, with parameters, operations and the size of their `.keras`
(and TFLite) files. `linprune bench` and `benchmarks/latency.py` use both.

Timings are wall-clock on this machine: compare models measured in the
same process, and repeat runs; on a shared machine they vary by 10-20 %.

Example:

```python
small, report = linprune.apply(model, x)
print(linprune.bench.compare(model, small).to_string(index=False))
```
"""

import os
import tempfile
import time

import keras
import numpy as np
import pandas as pd

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import nest
from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.measurement import data as data_lib


def example_inputs(model, batch, seed=0):
    """Random inputs for `model` with `batch` rows, structured like its
    inputs (a dict, list or array): standard normal floats, and zeros for
    integer inputs (token ids, lookup indices).

    Raises:
        ValueError: For a string input, or an input with an unknown size
            other than the batch (e.g. images of any size).
    """
    fn = nodes_lib.functional_graph(model)
    rng = np.random.default_rng(seed)
    arrays = []
    for t in fn.inputs:
        dtype = keras.backend.standardize_dtype(t.dtype)
        if None in t.shape[1:] or not ("float" in dtype or "int" in dtype):
            raise ValueError(
                "Expected model inputs of fixed shapes and numeric dtypes, "
                "to generate timing inputs. Received: input "
                f"'{t.name}' of shape {tuple(t.shape)} and dtype {dtype}"
            )
        shape = (batch, *t.shape[1:])
        values = rng.normal(size=shape) if "float" in dtype else np.zeros(shape)
        arrays.append(values.astype(dtype))
    return internals.pack_inputs(fn, arrays)


def best_seconds(run, repeats):
    """The fastest of `repeats` calls of `run`, after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def latency(model, *, batch_sizes=(1, 256), repeats=5, tflite=False, seed=0):
    """Best times in milliseconds of `model` on random inputs.

    Args:
        model: A `keras.Model` with fixed input shapes.
        batch_sizes: Batch sizes of the compiled forward pass.
        repeats: Timed calls per figure (the best is kept).
        tflite: Also time the TFLite interpreter at batch 1 (needs the
            builtin operator set).
        seed: Seed of the random inputs.

    Returns:
        `{"compiled_b<N>_ms": ..., "eager_b1_ms": ..., "tflite_b1_ms": ...}`.
    """
    if repeats < 1 or not batch_sizes or min(batch_sizes) < 1:
        raise ValueError(
            "Expected repeats >= 1 and batch sizes >= 1. Received: "
            f"repeats={repeats}, batch_sizes={tuple(batch_sizes)}"
        )
    import tensorflow as tf

    # What a serving signature runs: the graph of one call, no `predict`
    # loop around it (its Python overhead would hide the model's cost).
    compiled = tf.function(lambda x: model(x, training=False))
    times = {}
    for batch in batch_sizes:
        x = keras.tree.map_structure(tf.constant, example_inputs(model, batch, seed))
        times[f"compiled_b{batch}_ms"] = 1e3 * best_seconds(
            lambda x=x: compiled(x), repeats
        )
    one = example_inputs(model, 1, seed)
    times["eager_b1_ms"] = 1e3 * best_seconds(lambda: model(one), repeats)
    if tflite:
        times["tflite_b1_ms"] = 1e3 * _tflite_seconds(model, one, repeats)
    return times


def _tflite_seconds(model, x, repeats):
    from keras_linprune import export

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.tflite")
        export.export_tflite(model, path, ops="builtins")
        runner = export.tflite_runner(path)
    names = data_lib.input_names(nodes_lib.functional_graph(model))
    feed = dict(zip(names, keras.tree.flatten(x)))
    return best_seconds(lambda: runner(**feed), repeats)


def file_sizes(model, *, tflite=False, saved_model=False):
    """Bytes of the model saved as `.keras` (and as a SavedModel folder, and
    as TFLite)."""
    from keras_linprune import export

    sizes = {}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        sizes["keras_bytes"] = os.path.getsize(path)
        if saved_model:
            path = export.export_saved_model(model, os.path.join(folder, "served"))
            sizes["saved_model_bytes"] = _folder_bytes(path)
        if tflite:
            path = os.path.join(folder, "model.tflite")
            export.export_tflite(model, path)
            sizes["tflite_bytes"] = os.path.getsize(path)
    return sizes


def _folder_bytes(folder):
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(folder)
        for name in names
    )


def describe(model, *, saved_model=False, **options):
    """Parameters, operations (nested models' included), file sizes and
    latency of one model, as a dict (`options`: those of `latency`;
    `saved_model`: also the size of its SavedModel folder)."""
    row = {
        "params": model.count_params(),
        "operations": sum(1 for _ in nest.flat_operations(model)),
    }
    tflite = options.get("tflite", False)
    row.update(file_sizes(model, tflite=tflite, saved_model=saved_model))
    row.update(latency(model, **options))
    return row


def compare(original, compressed, **options):
    """The two models side by side: one row per figure of `describe`, with
    `original`, `compressed` and `ratio` (compressed / original).

    Both models are timed in turn, in this process, with the same inputs.
    """
    before = describe(original, **options)
    after = describe(compressed, **options)
    rows = [
        dict(
            measure=key,
            original=before[key],
            compressed=after[key],
            ratio=after[key] / before[key] if before[key] else np.nan,
        )
        for key in before
    ]
    return pd.DataFrame(rows, columns=["measure", "original", "compressed", "ratio"])
