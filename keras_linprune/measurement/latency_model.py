"""Calibrating `objective="latency"`'s cost model on this machine.

A short microbenchmark times compiled `Dense` layers of several widths at a
batch of 256 rows and fits `time = per_layer + per_mac * MACs` by least
squares (`plan.costs.LatencyModel`). The result is cached in
`~/.cache/keras_linprune/latency_model.json` (or `$KERAS_LINPRUNE_CACHE`),
keyed by the machine, the TensorFlow version and the batch, so it runs once
per machine (a few seconds).
"""

import json
import os
import platform
import time

import numpy as np

from keras_linprune.files.atomic import atomic_path
from keras_linprune.plan.costs import LatencyModel

#: (input width, units) of the timed layers.
SHAPES = ((16, 16), (64, 64), (256, 256), (512, 512), (1024, 1024), (1024, 2048))


def cache_path():
    """Where calibrations are cached."""
    folder = os.environ.get("KERAS_LINPRUNE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_linprune"
    )
    return os.path.join(folder, "latency_model.json")


def machine_key(batch):
    """What a calibration depends on: the machine, TensorFlow, the batch."""
    import tensorflow as tf

    return (
        f"{platform.machine()}|{platform.processor()}|{os.cpu_count()}|"
        f"tf{tf.__version__}|batch{batch}"
    )


def latency_model(batch=256, *, repeats=20, use_cache=True):
    """The `LatencyModel` of this machine (cached after the first call)."""
    key = machine_key(batch)
    cached = _read_cache() if use_cache else {}
    if key in cached:
        return LatencyModel(**cached[key])
    model = calibrate(batch, repeats)
    if use_cache:
        cached[key] = dict(
            per_layer_ms=model.per_layer_ms, per_mac_ms=model.per_mac_ms, batch=batch
        )
        _write_cache(cached)
    return model


def calibrate(batch=256, repeats=20):
    """Times each `SHAPES` layer compiled at `batch` rows (best of
    `repeats`) and fits the per-layer and per-MAC costs (both >= 0)."""
    times = np.array([_layer_ms(n_in, n_out, batch, repeats) for n_in, n_out in SHAPES])
    macs = np.array([n_in * n_out for n_in, n_out in SHAPES], np.float64)
    design = np.stack([np.ones_like(macs), macs * batch], axis=1)
    (per_layer, per_mac), *_ = np.linalg.lstsq(design, times, rcond=None)
    return LatencyModel(max(float(per_layer), 0.0), max(float(per_mac), 0.0), batch)


def _layer_ms(n_in, n_out, batch, repeats):
    import keras
    import tensorflow as tf

    layer = keras.layers.Dense(n_out, activation="relu")
    x = tf.random.normal((batch, n_in))
    layer(x)
    call = tf.function(lambda t: layer(t))
    call(x)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call(x).numpy()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def _read_cache():
    try:
        with open(cache_path()) as file:
            data = json.load(file)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(data):
    path = cache_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "w") as file:
            json.dump(data, file, indent=1)
    except OSError:
        pass  # a read-only home: calibrate again next time
