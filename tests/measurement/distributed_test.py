"""Measuring under a `tf.distribute` strategy: each batch is split across the
replicas and the integer counts summed, so the statistics equal one
device's bit for bit. Runs in a subprocess: logical devices must be set
before TensorFlow starts, and the test process has started it."""

import pytest

from tests import factories as f

SCRIPT = """
import io, json, logging, sys
import tensorflow as tf

logs = io.StringIO()
tf.get_logger().addHandler(logging.StreamHandler(logs))

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
sys.path.insert(0, sys.argv[1])
import keras
import numpy as np

import keras_linprune as linprune
from keras_linprune.measurement import counting, replicas
from tests import factories as f
from tests.factories import cnn, images, pin_channels

splits = []
compiled = replicas.compiled_split_sum


def counted(*args):
    step = compiled(*args)
    return lambda x: splits.append(1) or step(x)


replicas.compiled_split_sum = counted
calls = []
step = counting._SiteCounter._distributed_step
counting._SiteCounter._distributed_step = lambda self, *a: calls.append(1) or step(
    self, *a
)

def same(a, b):
    return (
        a.rows == b.rows
        and a.sites == b.sites
        and all(np.array_equal(a.piece_counts[k], b.piece_counts[k]) for k in a.sites)
        and all(a.observations[k] == b.observations[k] for k in a.sites)
    )

mlp = f.shape_biases(f.mlp((6, 32, 16, 3)), on=0.3, dead=0.2)
conv = pin_channels(
    cnn(keras.layers.Conv2D(12, 3, padding="same", name="c0"),
        keras.layers.Conv2D(4, 1, name="c1"))
)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
result = {"replicas": strategy.num_replicas_in_sync}
for name, model, x in [("mlp", mlp, f.data(301, 6)), ("conv", conv, images(45))]:
    single = linprune.measure(model, x, batch_size=64, verbose=0)
    given = linprune.measure(model, x, batch_size=64, strategy=strategy, verbose=0)
    with strategy.scope():
        scoped = linprune.measure(model, x, batch_size=64, verbose=0)
    _, report = linprune.apply(model, x, batch_size=64, strategy=strategy, verbose=0)
    _, alone = linprune.apply(model, x, batch_size=64, verbose=0)
    moments = [
        linprune.measure(model, x, batch_size=64, moments=True, verbose=0, **where)
        .moments
        for where in ({}, dict(strategy=strategy))
    ]
    result[name] = dict(
        moments=bool(moments[0]) and all(
            np.allclose(a.gram, b.gram, rtol=1e-10, atol=1e-9)
            and np.allclose(a.cross, b.cross, rtol=1e-10, atol=1e-9)
            for a, b in zip(moments[0].values(), moments[1].values())
        ),
        given=same(single, given),
        scoped=same(single, scoped),
        rows=given.rows,
        report=report.drop(columns="certified").equals(alone.drop(columns="certified")),
    )
result["distributed_batches"] = len(calls)
mlp.compile(loss="mse")
x, y = f.data(301, 6), mlp.predict(f.data(301, 6), verbose=0) * 0.9
guard = dict(max_metric_drop=0.5, eval_data=(x, y), metric="mae", verbose=0)
_, alone = linprune.apply(mlp, x, **guard)
with strategy.scope():  # the guard's evaluation under the strategy
    _, scoped = linprune.apply(mlp, x, **guard)
keys = ("metric_before", "threshold")
result["guard"] = [round(r.attrs[k], 6) for r in (alone, scoped) for k in keys]
refit = dict(threshold=0.8, refit=True, batch_size=64, verbose=0)
small, plain = linprune.apply(mlp, x, **refit)
before = len(splits)
fitted, shared = linprune.apply(mlp, x, strategy=strategy, **refit)
result["refit"] = dict(
    split_batches=len(splits) - before,
    refitted=int(plain.folded.sum()),
    same_plan=plain.drop(columns="certified").equals(shared.drop(columns="certified")),
    close=all(
        np.allclose(a, b, rtol=1e-5, atol=1e-6)
        for a, b in zip(small.get_weights(), fitted.get_weights())
    ),
)
print("RESULT " + json.dumps(result))
print("RETRACING" if "retracing" in logs.getvalue() else "", flush=True)
"""


@pytest.mark.slow
def test_mirrored_strategy_counts_equal_one_device():
    result, stdout = f.run_script(SCRIPT, timeout=600)
    assert "RETRACING" not in stdout, "TensorFlow warned of retracing"
    assert result["replicas"] == 2
    # mlp: 301 rows in 5 batches, conv: 45 rows in 1; 4 distributed passes each
    assert result["distributed_batches"] == 4 * (5 + 1)
    for name, rows in (("mlp", 301), ("conv", 45)):
        assert result[name] == dict(
            moments=True, given=True, scoped=True, rows=rows, report=True
        )
    before, threshold, scoped_before, scoped_threshold = result["guard"]
    assert (scoped_before, scoped_threshold) == (before, threshold)
    # Refit's normal equations, summed across the replicas: the same fit up
    # to the order of float64 additions.
    refit = result["refit"]
    assert refit["refitted"] > 0 and refit["same_plan"] and refit["close"]
    assert refit["split_batches"] == 5 + 5  # measuring, then refit's pass


def test_strategy_must_be_a_tf_distribute_strategy():
    import keras_linprune as linprune

    with pytest.raises(TypeError, match="tf.distribute.Strategy.*Received"):
        linprune.measure(f.mlp((4, 8, 2)), f.data(8, 4), strategy="mirrored")
