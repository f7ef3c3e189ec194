"""The same work on Keras' TensorFlow and JAX backends.

One script runs in two subprocesses, `KERAS_BACKEND=tensorflow` and
`KERAS_BACKEND=jax` (the backend is fixed when Keras is imported, and this
process imported it with TensorFlow). On each it measures, compresses,
refits, certifies and sweeps a set of models, checks the compressed models
against the originals through `predict()`, and prints what it found; the
test compares the two: counts bit for bit, the same plans, the same sizes,
refitted weights and sweep metrics to float tolerance.
"""

import numpy as np
import pytest

from tests import factories as f

SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import keras
import numpy as np

import keras_linprune as linprune
from keras_linprune.examples import zoo
from tests import factories as f
from tests.factories import cnn, images, pin_channels

def exact(model, small, x):
    want = keras.tree.flatten(model.predict(x, verbose=0))
    got = keras.tree.flatten(small.predict(x, verbose=0))
    return max(float(np.max(np.abs(a - b))) for a, b in zip(want, got))

def same_kernels(model, seed=0):
    # Kernels drawn by NumPy, so that both backends hold the same model
    # (their initializers draw differently); the other weights start from
    # constants (zeros, ones) already.
    rng = np.random.default_rng(seed)
    model.set_weights([
        (rng.normal(size=w.shape) / np.sqrt(np.prod(w.shape[:-1]))).astype(w.dtype)
        if w.ndim >= 2 else w
        for w in model.get_weights()
    ])
    return model

models = {
    "mlp": (
        f.shape_biases(same_kernels(f.mlp((6, 32, 16, 3))), on=0.3, dead=0.2),
        f.data(301, 6),
    ),
    "cnn": (
        pin_channels(same_kernels(cnn(
            keras.layers.Conv2D(12, 3, padding="same", name="c0"),
            keras.layers.Conv2D(4, 1, name="c1"),
        ))),
        images(45),
    ),
}
for name in ("leaky_relu_mlp", "prelu_mlp", "relu6_mlp", "two_branch", "multi_io"):
    model = f.shape_biases(same_kernels(zoo.BUILDERS[name]()), on=0.3, dead=0.2)
    models[name] = (model, zoo.inputs_for(model, 200))

result = {"backend": keras.backend.backend()}
for name, (model, x) in models.items():
    stats = linprune.measure(model, x, batch_size=64, verbose=0)
    small, report = linprune.apply(model, stats, threshold=0.9)
    result[name] = dict(
        counts={k: stats.piece_counts[k].tolist() for k in stats.sites},
        rows=stats.rows,
        params_after=int(report.attrs["params_after"]),
        folded=report.folded.tolist(),
        error_at_1=exact(model, linprune.apply(model, stats)[0], x),
    )

mlp, x = models["mlp"]
fitted, report = linprune.apply(mlp, x, threshold=0.8, refit=True, verbose=0)
result["refit"] = dict(
    weights=[w.tolist() for w in fitted.get_weights()],
    skipped=report.attrs.get("refit_skipped", {}),
)
conv, images_x = models["cnn"]
moment_stats = linprune.measure(conv, images_x, moments=True, verbose=0)
from_stats, _ = linprune.apply(conv, moment_stats, threshold=0.8, refit=True)
from_data, _ = linprune.apply(conv, images_x, threshold=0.8, refit=True, verbose=0)
result["conv_moments"] = dict(
    grams={k: m.gram.tolist() for k, m in moment_stats.moments.items()},
    weights=[w.tolist() for w in from_stats.get_weights()],
    same_as_data=all(
        np.allclose(a, b, rtol=1e-5, atol=1e-6)
        for a, b in zip(from_stats.get_weights(), from_data.get_weights())
    ),
)
small, report = linprune.apply(mlp, x, certify=True, verbose=0)
result["certify"] = dict(certified=report.certified.tolist(),
                         params_after=int(report.attrs["params_after"]))
mlp.compile(loss="mse", metrics=["mae"])
y = mlp.predict(x, verbose=0) * 0.9
table = linprune.sweep(mlp, x, eval_data=(x, y), thresholds=[0.5, 0.9, 1.0], verbose=0)
result["sweep"] = table[["total_params", "mae"]].to_dict("list")
print("RESULT " + json.dumps(result))
"""


def run_on(backend):
    env = dict(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    return f.run_script(SCRIPT, env=env)[0]


@pytest.fixture(scope="module")
def results():
    return run_on("tensorflow"), run_on("jax")


MODELS = (
    "mlp",
    "cnn",
    "leaky_relu_mlp",
    "prelu_mlp",
    "relu6_mlp",
    "two_branch",
    "multi_io",
)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_jax_counts_and_plans_equal_tensorflow(results, name):
    tf_run, jax_run = results
    assert (tf_run["backend"], jax_run["backend"]) == ("tensorflow", "jax")
    assert jax_run[name]["counts"] == tf_run[name]["counts"]  # bit for bit
    assert jax_run[name]["rows"] == tf_run[name]["rows"]
    assert jax_run[name]["params_after"] == tf_run[name]["params_after"]
    assert jax_run[name]["folded"] == tf_run[name]["folded"]
    # Threshold 1.0 is exact on the calibration data, on either backend.
    assert jax_run[name]["error_at_1"] < 1e-4
    assert tf_run[name]["error_at_1"] < 1e-4


@pytest.mark.slow
def test_jax_refit_certify_and_sweep_agree_with_tensorflow(results):
    tf_run, jax_run = results
    assert jax_run["refit"]["skipped"] == tf_run["refit"]["skipped"]
    for a, b in zip(jax_run["refit"]["weights"], tf_run["refit"]["weights"]):
        # float64 normal equations on both; the float32 activations they
        # are made of differ in rounding between the backends.
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Second moments of a convolution's patches, and the refit from them.
    tf_moments, jax_moments = tf_run["conv_moments"], jax_run["conv_moments"]
    assert tf_moments["same_as_data"] and jax_moments["same_as_data"]
    assert jax_moments["grams"].keys() == tf_moments["grams"].keys() == {"r0"}
    np.testing.assert_allclose(
        jax_moments["grams"]["r0"], tf_moments["grams"]["r0"], rtol=1e-6, atol=1e-6
    )
    for a, b in zip(jax_moments["weights"], tf_moments["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert jax_run["certify"] == tf_run["certify"]
    assert jax_run["sweep"]["total_params"] == tf_run["sweep"]["total_params"]
    np.testing.assert_allclose(
        jax_run["sweep"]["mae"], tf_run["sweep"]["mae"], rtol=1e-4
    )
