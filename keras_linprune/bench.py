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

import contextlib
import os
import tempfile
import time

import keras
import numpy as np
import pandas as pd

from keras_linprune import export
from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import nest
from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.graph.model_checks import check_backend
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


#: Shortest timed sample: calls are looped until a sample lasts this long,
#: so that sub-millisecond calls are not measured one timer tick at a time.
MIN_SAMPLE_SECONDS = 0.02


def calls_per_sample(run, min_seconds=MIN_SAMPLE_SECONDS):
    """How many back-to-back calls of `run` last at least `min_seconds`
    (after one warm-up call, which also traces a compiled function)."""
    run()
    start = time.perf_counter()
    run()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(np.ceil(min_seconds / once)))


def sample_seconds(run, calls):
    """Mean seconds of one call over `calls` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def best_of_rounds(timer_sets, repeats):
    """Times several sets of callables in alternation.

    Each round takes one sample of every callable of every set in turn, so
    that a slow spell of a shared machine hits all of them alike; the best
    of `repeats` rounds is kept.

    Args:
        timer_sets: A list of `{figure: callable}`.
        repeats: Rounds.

    Returns:
        A list of `{figure: best seconds}`, one per set.
    """
    calls = [{k: calls_per_sample(run) for k, run in t.items()} for t in timer_sets]
    best = [{k: np.inf for k in t} for t in timer_sets]
    for _ in range(repeats):
        for timers, n, result in zip(timer_sets, calls, best):
            for key, run in timers.items():
                result[key] = min(result[key], sample_seconds(run, n[key]))
    return best


def latency(model, *, batch_sizes=(1, 256), repeats=5, tflite=False, seed=0):
    """Best times in milliseconds of `model` on random inputs.

    Args:
        model: A `keras.Model` with fixed input shapes.
        batch_sizes: Batch sizes of the compiled forward pass.
        repeats: Timed samples per figure (the best is kept); each sample
            is the mean of as many calls as last `MIN_SAMPLE_SECONDS`.
        tflite: Also time the TFLite interpreter at batch 1 (needs the
            builtin operator set).
        seed: Seed of the random inputs.

    Returns:
        `{"compiled_b<N>_ms": ..., "eager_b1_ms": ..., "tflite_b1_ms": ...}`.
    """
    return latencies(
        [model], batch_sizes=batch_sizes, repeats=repeats, tflite=tflite, seed=seed
    )[0]


def latencies(models, *, batch_sizes=(1, 256), repeats=5, tflite=False, seed=0):
    """`latency` of several models timed in alternation (`best_of_rounds`),
    so that their figures are comparable on a shared machine."""
    check_backend(needs_tensorflow="keras_linprune.bench (it times tf.function)")
    if repeats < 1 or not batch_sizes or min(batch_sizes) < 1:
        raise ValueError(
            "Expected repeats >= 1 and batch sizes >= 1. Received: "
            f"repeats={repeats}, batch_sizes={tuple(batch_sizes)}"
        )
    with contextlib.ExitStack() as stack:
        timer_sets = [
            _timers(m, batch_sizes, tflite, seed, stack.enter_context) for m in models
        ]
        best = best_of_rounds(timer_sets, repeats)
    return [{k: 1e3 * v for k, v in times.items()} for times in best]


def _timers(model, batch_sizes, tflite, seed, enter):
    """`{figure: callable}` of one model (`enter` keeps a temporary
    folder alive while the TFLite runner needs it)."""
    import tensorflow as tf

    # What a serving signature runs: the graph of one call, no `predict`
    # loop around it (its Python overhead would hide the model's cost).
    # Traced once per batch size, up front: the timed call is the graph.
    compiled = tf.function(lambda x: model(x, training=False))
    timers = {}
    for batch in batch_sizes:
        x = keras.tree.map_structure(tf.constant, example_inputs(model, batch, seed))
        graph = compiled.get_concrete_function(x)
        timers[f"compiled_b{batch}_ms"] = lambda x=x, graph=graph: graph(x)
    one = example_inputs(model, 1, seed)
    timers["eager_b1_ms"] = lambda: model(one)
    if tflite:
        timers["tflite_b1_ms"] = _tflite_call(model, one, enter)
    return timers


def _tflite_call(model, x, enter):
    folder = enter(tempfile.TemporaryDirectory())
    path = os.path.join(folder, "model.tflite")
    export.export_tflite(model, path, ops="builtins")
    runner = export.tflite_runner(path)
    names = data_lib.input_names(nodes_lib.functional_graph(model))
    feed = dict(zip(names, keras.tree.flatten(x)))
    return lambda: runner(**feed)


def file_sizes(model, *, tflite=False, saved_model=False):
    """Bytes of the model saved as `.keras` (and as a SavedModel folder, and
    as TFLite)."""
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
    return describe_all([model], saved_model=saved_model, **options)[0]


def describe_all(models, *, saved_model=False, **options):
    """`describe` of several models, their latencies timed in alternation
    (`latencies`)."""
    rows = [
        {
            "params": m.count_params(),
            "operations": sum(1 for _ in nest.flat_operations(m)),
            **file_sizes(
                m, tflite=options.get("tflite", False), saved_model=saved_model
            ),
        }
        for m in models
    ]
    for row, times in zip(rows, latencies(models, **options)):
        row.update(times)
    return rows


def compare(original, compressed, **options):
    """The two models side by side: one row per figure of `describe`, with
    `original`, `compressed` and `ratio` (compressed / original).

    Both models are timed in alternation, in this process, with the same
    inputs.
    """
    before, after = describe_all([original, compressed], **options)
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
