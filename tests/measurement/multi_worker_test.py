"""Measuring under `MultiWorkerMirroredStrategy`: two worker processes on
localhost (`TF_CONFIG`), each with one CPU replica. Every worker reads the
same batches, counts its replica's rows, and the integer counts are summed
across workers, so both workers get one process's statistics bit for bit."""

import json
import os
import socket
import subprocess
import sys

import pytest

from tests import factories as f

ROOT = f.ROOT

WORKER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()
import keras
import numpy as np

import keras_linprune as linprune
from tests import factories as f
from tests.factories import cnn, images, pin_channels

mlp = f.shape_biases(f.mlp((6, 32, 16, 3)), on=0.3, dead=0.2)
conv = pin_channels(
    cnn(keras.layers.Conv2D(12, 3, padding="same", name="c0"),
        keras.layers.Conv2D(4, 1, name="c1"))
)
result = {"replicas": strategy.num_replicas_in_sync}
for name, model, x in [("mlp", mlp, f.data(301, 6)), ("conv", conv, images(45))]:
    alone = linprune.measure(model, x, batch_size=64, verbose=0)
    shared = linprune.measure(model, x, batch_size=64, strategy=strategy, verbose=0)
    _, report = linprune.apply(model, x, batch_size=64, strategy=strategy, verbose=0)
    result[name] = dict(
        rows=shared.rows,
        counts={k: shared.piece_counts[k].tolist() for k in shared.sites},
        equal=alone.rows == shared.rows
        and all(
            np.array_equal(alone.piece_counts[k], shared.piece_counts[k])
            for k in alone.sites
        ),
        params_after=int(report.attrs["params_after"]),
    )
print("RESULT " + json.dumps(result), flush=True)
"""


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers(n):
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(n)]}
    procs = []
    for index in range(n):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(config), TF_CPP_MIN_LOG_LEVEL="2")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(ROOT)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
        )
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            results.append(f.script_result(proc.returncode, out, err))
    finally:
        for proc in procs:
            proc.kill()
    return results


@pytest.mark.slow
def test_two_workers_count_what_one_process_counts():
    first, second = run_workers(2)
    assert first["replicas"] == second["replicas"] == 2
    for name, rows in (("mlp", 301), ("conv", 45)):
        # Equal to a single process's counts on each worker (rows counted
        # once: each replica took every other row of every batch) ...
        assert first[name]["equal"] and second[name]["equal"]
        assert first[name]["rows"] == rows
        # ... and both workers agree, down to the compressed model.
        assert first[name] == second[name]
