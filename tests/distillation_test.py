"""Distillation fine-tuning: it lowers the distillation loss, leaves both
models as they were, and returns a plain Keras model."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.distillation import distillation_loss
from tests import factories as f


@pytest.fixture(scope="module")
def lossy():
    """A trained classifier and a lossy compression of it."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((6,), name="features")
    h = keras.layers.Dense(32, activation="relu", name="d0")(x_in)
    h = keras.layers.Dense(32, activation="relu", name="d1")(h)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(h)
    model = keras.Model(x_in, out, name="teacher")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = f.data(600, 6, seed=3)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype("int32") + (x[:, 3] > 1)
    model.fit(x, y, epochs=5, verbose=0)
    small, _ = linprune.apply(model, x, threshold=0.6, verbose=0)
    return model, small, x, y


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def test_finetuning_lowers_the_distillation_loss_and_changes_nothing_given(lossy):
    model, small, x, _ = lossy
    before_model, before_small = weights_of(model), weights_of(small)
    loss_before = distillation_loss(small, model, x)
    tuned, history = linprune.finetune(
        small, model, x, epochs=4, learning_rate=1e-3, verbose=0
    )
    assert distillation_loss(tuned, model, x) < 0.8 * loss_before
    assert set(history.history) >= {"loss", "val_loss"}
    for a, b in zip(model.get_weights(), before_model):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(small.get_weights(), before_small):
        np.testing.assert_array_equal(a, b)
    assert tuned is not small and tuned.name == small.name
    assert tuned.count_params() == small.count_params()


def test_the_result_is_plain_keras_and_reloads(lossy, tmp_path):
    model, small, x, _ = lossy
    tuned, _ = linprune.finetune(small, model, x, epochs=1, verbose=0)
    assert all(type(layer).__module__.startswith("keras") for layer in tuned.layers)
    path = tmp_path / "tuned.keras"
    tuned.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(
        again.predict(x, verbose=0), tuned.predict(x, verbose=0), atol=1e-6
    )


def test_labels_mix_in_through_the_originals_loss(lossy):
    model, small, x, y = lossy
    tuned, history = linprune.finetune(
        small, model, x, labels=y, label_weight=0.5, epochs=2, verbose=0
    )
    assert len(history.history["loss"]) <= 2
    probs = tuned.predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_the_loss_follows_the_outputs():
    from keras_linprune.distillation import _auto_loss

    assert _auto_loss(np.array([[0.2, 0.8], [0.5, 0.5]])) == "kl_divergence"
    assert _auto_loss(np.array([[0.2, 1.8]])) == "mse"
    assert _auto_loss(np.array([[-1.0, 2.0]])) == "mse"


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(epochs=0), ValueError, "`epochs` to be a positive int"),
        (dict(learning_rate=2.0), ValueError, "learning_rate"),
        (dict(validation_split=1.0), ValueError, "validation_split"),
        (dict(loss="hinge"), ValueError, "'auto', 'kl_divergence', 'mse'"),
        (dict(labels=np.zeros(3)), ValueError, "row counts"),
        (dict(labels=np.zeros(600), label_weight=1.0), ValueError, "label_weight"),
        (dict(data="x.npy"), TypeError, "NumPy arrays"),
    ],
)
def test_bad_arguments_fail_before_training(lossy, kwargs, error, match):
    model, small, x, _ = lossy
    data = kwargs.pop("data", x)
    with pytest.raises(error, match=match):
        linprune.finetune(small, model, data, verbose=0, **kwargs)


def test_another_models_compression_is_refused(lossy):
    model, _, x, _ = lossy
    other = f.mlp((5, 8, 2))
    with pytest.raises(ValueError, match="same input and output shapes"):
        linprune.finetune(other, model, x, verbose=0)


def test_labels_need_a_compiled_original(lossy):
    model, small, x, y = lossy
    plain = keras.Model(model.inputs, model.outputs)  # same layers, not compiled
    assert not plain.compiled
    with pytest.raises(ValueError, match="compiled original"):
        linprune.finetune(small, plain, x, labels=y, verbose=0)


ELSEWHERE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
if os.environ.get("REPLICAS"):
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
import keras
import numpy as np
import keras_linprune as linprune
from keras_linprune.distillation import distillation_loss
from tests import factories as f

keras.utils.set_random_seed(0)
model = f.mlp((6, 32, 32, 3))
x = f.data(400, 6, seed=3)
model.compile("adam", "mse")
model.fit(x, np.stack([x[:, 0] * x[:, 1], x[:, 2], -x[:, 3]], 1), epochs=3, verbose=0)
small, _ = linprune.apply(model, x, threshold=0.6, verbose=0)
strategy = None
if os.environ.get("REPLICAS"):
    import tensorflow as tf
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
tuned, history = linprune.finetune(
    small, model, x, epochs=3, learning_rate=1e-3, strategy=strategy, verbose=0
)
print("RESULT " + json.dumps(dict(
    before=distillation_loss(small, model, x, loss="mse"),
    after=distillation_loss(tuned, model, x, loss="mse"),
    epochs=len(history.history["loss"]),
)))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "env", [dict(KERAS_BACKEND="jax"), dict(REPLICAS="2")], ids=["jax", "mirrored"]
)
def test_finetune_runs_on_jax_and_under_a_strategy(env):
    result, _ = f.run_script(
        ELSEWHERE, env=dict(TF_CPP_MIN_LOG_LEVEL="3", **env), timeout=600
    )
    assert result["after"] < result["before"] and result["epochs"] >= 1
