"""Small model factories shared by the tests."""

import logging

import keras
import numpy as np


def mlp(
    widths=(6, 16, 12, 8, 3),
    *,
    style="inline",
    dropout=False,
    sequential=False,
    seed=0,
    output_activation=None,
    name="mlp",
):
    """A Dense/ReLU MLP; `style` is how the ReLU is written.

    style: "inline" (`activation="relu"`), "layer" (`ReLU()`), or
    "activation" (`Activation("relu")`).
    """
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((widths[0],))]
    for i, w in enumerate(widths[1:-1]):
        if style == "inline":
            layers.append(keras.layers.Dense(w, activation="relu", name=f"d{i}"))
        else:
            layers.append(keras.layers.Dense(w, name=f"d{i}"))
            layers.append(
                keras.layers.ReLU(name=f"relu{i}")
                if style == "layer"
                else keras.layers.Activation("relu", name=f"act{i}")
            )
        if dropout:
            layers.append(keras.layers.Dropout(0.3, name=f"drop{i}"))
    layers.append(
        keras.layers.Dense(widths[-1], name="out", activation=output_activation)
    )
    if sequential:
        return keras.Sequential(layers, name=name)
    x = layers[0]
    h = x
    for layer in layers[1:]:
        h = layer(h)
    return keras.Model(x, h, name=name)


def shape_biases(model, *, on=0.4, dead=0.2, seed=0, scale=0.3):
    """Makes a fraction of every hidden layer's neurons always active
    (`on`) or never active (`dead`) on inputs of moderate size, by scaling
    kernels down and pushing biases far up or down."""
    rng = np.random.default_rng(seed)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for layer in dense[:-1]:
        k, b = layer.get_weights()
        u = rng.uniform(size=b.shape)
        b = np.where(u < on, 50.0, np.where(u < on + dead, -50.0, b))
        layer.set_weights([k * scale, b.astype("float32")])
    return model


def provably_linear(model, seed=0):
    """Non-negative kernels and biases: with inputs >= 0 every ReLU neuron
    is active (rate 1), so folding is exact on any non-negative input."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            k, b = layer.get_weights()
            layer.set_weights(
                [np.abs(k), rng.uniform(0.1, 1.0, b.shape).astype("float32")]
            )
    return model


def data(n=256, d=6, seed=1, low=None):
    rng = np.random.default_rng(seed)
    if low is not None:
        return rng.uniform(low, 1.0, size=(n, d)).astype("float32")
    return rng.normal(size=(n, d)).astype("float32")


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def assert_close(a, b, atol=1e-4, rtol=1e-4):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, atol=atol * scale, rtol=rtol)


def pin(model, levels=(-50.0, 3.0, 50.0), seed=0, scale=0.05):
    """Pins hidden channels of every Dense/Conv (and BatchNormalization
    shift) to one piece of their activation: small kernels, biases drawn
    from `levels` (-50: off, 3: linear for ReLU and ReLU6, 50: on or
    saturated). The last linear layer is left alone."""
    rng = np.random.default_rng(seed)
    for layer in linear_layers(model)[:-1]:
        weights = layer.get_weights()
        weights[0] = weights[0] * scale
        if len(weights) > 1:
            weights[1] = rng.choice(levels, size=weights[1].shape).astype("float32")
        layer.set_weights(weights)
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                    rng.choice(levels, size=beta.shape).astype("float32"),
                    (rng.normal(size=mean.shape) * 0.1).astype("float32"),
                    rng.uniform(0.5, 2.0, var.shape).astype("float32"),
                ]
            )
    return model


def linear_layers(model):
    """The Dense and Conv1D/2D/3D layers of `model` (inside nested models
    too), in layer order."""
    kinds = (
        keras.layers.Dense,
        keras.layers.Conv1D,
        keras.layers.Conv2D,
        keras.layers.Conv3D,
    )
    return [layer for layer in _all_layers(model) if isinstance(layer, kinds)]


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def compress_exact(model, x, atol=1e-5, **kwargs):
    """`apply` with `layer_threshold=0` (unless given), checking that the
    result equals the original on `x` and that the planner's count holds."""
    import keras_linprune as linprune

    kwargs.setdefault("layer_threshold", 0)
    small, report = linprune.apply(model, x, verbose=0, **kwargs)
    for a, b in zip(
        keras.tree.flatten(small.predict(x, verbose=0)),
        keras.tree.flatten(model.predict(x, verbose=0)),
    ):
        assert_close(a, b, atol=atol)
    assert small.count_params() == report.attrs["params_after"]
    return small, report


# -- convolutional models (conv_test and the tests that reuse them) --


def pin_channels(model, levels=(-50.0, 50.0), seed=0, scale=0.05):
    """Scales kernels down and draws biases from `levels` (plus a few
    zero ones), so channels sit inside one piece of their activation."""
    rng = np.random.default_rng(seed)
    for layer in linear_layers(model)[:-1]:
        k, b = layer.get_weights()
        b = rng.choice(levels, size=b.shape)
        b[: max(1, b.size // 6)] = 0.0
        layer.set_weights([k * scale, b.astype("float32")])
    return model


def images(n=64, shape=(8, 8, 3), seed=0):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def cnn(
    first, consumer, head=keras.layers.GlobalAveragePooling2D, shape=(8, 8, 3), extra=()
):
    keras.utils.set_random_seed(0)
    x = keras.Input(shape)
    h = keras.layers.ReLU(name="r0")(first(x))
    for layer in extra:
        h = layer(h)
    h = consumer(h)
    y = keras.layers.Dense(2, name="out")(head()(h))
    return keras.Model(x, y)


class Forgetful(keras.layers.Layer):
    """A custom layer whose config forgets its constructor argument, so it
    cannot be re-created from it (and the package must say so)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {}


ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def script_result(returncode, stdout, stderr):
    """The JSON a test script printed after `RESULT ` on its last such
    line; fails with the end of its stderr if it failed or printed none."""
    import json

    lines = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
    assert returncode == 0 and lines, stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def run_script(script, *, env=None, timeout=900):
    """Runs `script` with this Python in a subprocess, from the repository
    root (passed as `sys.argv[1]`), for what must happen in a fresh process
    (a Keras backend, logical devices). Returns `(result, stdout)`."""
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=dict(os.environ, **(env or {})),
    )
    return script_result(proc.returncode, proc.stdout, proc.stderr), proc.stdout


def one_site_dense():
    """A 5-7-3 MLP (one fold site) and 50 rows for it."""
    return mlp((5, 7, 3), seed=3), data(50, 5, seed=4)


class LogRecords(logging.Handler):
    """A `logging` handler keeping the messages it receives (attach it to
    the `tensorflow` logger to see what TensorFlow logs)."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())
