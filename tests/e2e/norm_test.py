import keras
import numpy as np

import keras_linprune as linprune
from keras_linprune.core import algebra
from tests import factories as f


def test_norm_scale_shift_matches_formula():
    rng = np.random.default_rng(0)
    g, b, m = rng.normal(size=(3, 5))
    v = rng.uniform(0.5, 2, 5)
    x = rng.normal(size=(7, 5))
    scale, shift = algebra.norm_scale_shift(g, b, m, v, 1e-3)
    np.testing.assert_allclose(x * scale + shift, g * (x - m) / np.sqrt(v + 1e-3) + b)


def test_absorbing_affines_into_a_kernel():
    rng = np.random.default_rng(1)
    w, bias = rng.normal(size=(4, 3)), rng.normal(size=3)
    s_in, t_in = rng.normal(size=(2, 4))
    s_out, t_out = rng.normal(size=(2, 3))
    x = rng.normal(size=(6, 4))
    k, c = algebra.absorb_input_affine(w, bias, s_in, t_in)
    np.testing.assert_allclose(x @ k + c, (x * s_in + t_in) @ w + bias)
    k, c = algebra.absorb_output_affine(w, bias, s_out, t_out)
    np.testing.assert_allclose(x @ k + c, (x @ w + bias) * s_out + t_out)


def trained_norm(layer, rng):
    """Non-trivial moving statistics and affine parameters."""
    n = layer.moving_mean.shape[0]
    weights = []
    for w in layer.weights:
        if "variance" in w.path:
            weights.append(rng.uniform(0.5, 2.0, n))
        elif "gamma" in w.path:
            weights.append(rng.uniform(0.5, 1.5, n))
        else:
            weights.append(rng.normal(size=n) * 0.3)
    layer.set_weights([w.astype("float32") for w in weights])


def norm_mlp(before_activation=True, center=True, scale=True, seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((6,))
    h = x
    for i, w in enumerate((24, 16)):
        h = keras.layers.Dense(w, name=f"d{i}", use_bias=not before_activation)(h)
        if before_activation:
            h = keras.layers.BatchNormalization(
                name=f"bn{i}", center=center, scale=scale
            )(h)
            h = keras.layers.ReLU(name=f"r{i}")(h)
        else:
            h = keras.layers.ReLU(name=f"r{i}")(h)
            h = keras.layers.BatchNormalization(name=f"bn{i}")(h)
            h = keras.layers.Dropout(0.2)(h)
    model = keras.Model(x, keras.layers.Dense(3, name="out")(h))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            trained_norm(layer, rng)
    if before_activation:  # pin neurons through the norm's shift
        for layer in model.layers[:-1]:
            if isinstance(layer, keras.layers.Dense):
                layer.set_weights([w * 0.3 for w in layer.get_weights()])
    else:  # pin neurons through the Dense biases
        f.shape_biases(model, on=0.4, dead=0.2)
        return model
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization) and center:
            ws = layer.get_weights()
            ws[1] = rng.choice([-50.0, 0.0, 50.0], ws[1].shape).astype("float32")
            layer.set_weights(ws)
    return model


def test_dense_norm_relu_folds_exactly():
    model = norm_mlp(before_activation=True)
    x = f.data(400)
    small, report = f.compress_exact(model, x)
    assert report.folded.all() and report.linear.sum() > 0
    names = [layer.name for layer in small.layers]
    assert not any(n.startswith("bn") for n in names)
    assert "bn0" not in " ".join(report.attrs["unchanged_layers"])


def test_norm_without_center_or_scale():
    model = norm_mlp(before_activation=True, center=False, scale=False)
    x = f.data(300)
    small, report = f.compress_exact(model, x)


def test_relu_norm_dense_folds_into_consumer():
    model = norm_mlp(before_activation=False)
    x = f.data(400)
    small, report = f.compress_exact(model, x)
    assert report.folded.all() and report.linear.sum() > 0
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in small.layers
    )


def test_norm_feeding_a_model_output_is_left():
    x = keras.Input((6,))
    h = keras.layers.Dense(8, name="d")(x)
    z = keras.layers.BatchNormalization(name="bn")(h)
    y = keras.layers.Dense(2, name="o")(keras.layers.ReLU(name="r")(z))
    model = f.shape_biases(keras.Model(x, [y, z]))
    data = f.data()
    small, report = linprune.apply(model, data, verbose=0)
    assert not report.folded.any()
    for a, b in zip(small.predict(data, verbose=0), model.predict(data, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-5)
