"""Random functional graphs, for property tests and robustness benchmarks.

`random_model(seed, layers, kind)` builds a reproducible functional model
from a seed: Dense (`kind="vector"`) or Conv2D / Conv2DTranspose
(`kind="image"`) producers with every supported activation (inline or as a
layer, with BatchNormalization before it sometimes), `Add` and `Concatenate`
merges, pooling, dropout and operations that are not layers (`x * c + d`).
Biases are drawn so that some neurons are always active, some never and some
mixed, so folds happen. A pooled activation is sometimes offered unpooled
too (a U-Net's skip, read directly by one layer and through pooling by
another), and the head sometimes reads a merge of two tensors. Image models
end with global average pooling, `Flatten` or `Reshape((-1,))` into the Dense
head; some are nested as a submodel between an outer producer and head.

Example:

>>> model, x = random_model(3, layers=4, kind="vector")
>>> x.shape[0] > 0 and model.count_params() > 0
True
"""

import keras
import numpy as np

L = keras.layers

_INLINE = (None, "relu", "relu6", "leaky_relu", "hard_sigmoid", "elu", "tanh")


def _activation_layer(rng):
    choice = rng.integers(6)
    if choice == 0:
        return L.ReLU(max_value=float(rng.choice([6.0, 4.0])))
    if choice == 1:
        return L.LeakyReLU(negative_slope=float(rng.choice([0.1, 0.3])))
    if choice == 2:
        return L.PReLU(
            alpha_initializer=keras.initializers.RandomUniform(-0.5, 0.5),
            shared_axes=None,
        )
    if choice == 3:
        return L.Activation("relu")
    if choice == 4:
        return L.ELU()
    return L.ReLU()


def _producer(rng, kind, width):
    inline = _INLINE[rng.integers(len(_INLINE))]
    if kind == "vector":
        layer = L.Dense(width, activation=inline)
    else:
        size = int(rng.choice([1, 3]))
        conv = L.Conv2DTranspose if rng.random() < 0.2 else L.Conv2D
        layer = conv(width, size, padding="same", activation=inline)
    return layer, inline


def _block(rng, kind, h):
    """One producer, possibly with normalization and an activation layer;
    returns the tensors later steps may read (an image block pooled at the
    end also offers its activation unpooled, a U-Net's skip)."""
    width = int(rng.choice([4, 6, 8, 12]))
    layer, inline = _producer(rng, kind, width)
    h = layer(h)
    if inline is None:
        if rng.random() < 0.3:
            h = L.BatchNormalization()(h)
        h = _activation_layer(rng)(h)
    if rng.random() < 0.2:
        h = L.Dropout(0.3)(h)
    if kind == "image" and rng.random() < 0.2:
        pooled = L.MaxPooling2D(2, strides=1, padding="same")(h)
        return [pooled, h] if rng.random() < 0.5 else [pooled]
    return [h]


def _merge(rng, pool):
    a, b = (pool[i] for i in rng.choice(len(pool), 2, replace=True))
    if rng.random() < 0.5 or a.shape[-1] != b.shape[-1]:
        return L.Concatenate()([a, b])
    return L.Add()([a, b])


def random_model(seed, layers=4, kind="vector"):
    """A random functional model and calibration inputs for it.

    Args:
        seed: Seed of every choice and weight.
        layers: Number of building steps (producers, merges, operations).
        kind: `"vector"` (Dense on `(rows, 6)` inputs) or `"image"` (Conv2D
            on `(rows, 6, 6, 3)` inputs).

    Returns:
        `(model, x)`.
    """
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(int(seed) % (2**31))
    shape = (6,) if kind == "vector" else (6, 6, 3)
    x = keras.Input(shape)
    pool = [x]
    for _ in range(layers):
        step = rng.random()
        if step < 0.6 or len(pool) < 2:
            pool.extend(_block(rng, kind, pool[int(rng.integers(len(pool)))]))
        elif step < 0.85:
            pool.append(_merge(rng, pool))
        else:
            h = pool[int(rng.integers(len(pool)))]
            pool.append(h * float(rng.choice([0.5, 2.0])) + 1.0)
    h = pool[-1] if len(pool) < 3 or rng.random() < 0.7 else _merge(rng, pool[1:])
    if kind == "image":
        draw = rng.random()
        if draw < 0.25:
            head = L.Flatten()
        elif draw < 0.4:
            head = L.Reshape((-1,))  # a Flatten by another name
        else:
            head = L.GlobalAveragePooling2D()
        h = head(h)
    model = keras.Model(x, L.Dense(3)(h), name=f"random_{kind}_{seed}")
    _pin(model, rng)
    if rng.random() < 0.3:
        model = _nested(model, rng, shape, kind)
    data = rng.normal(size=(64, *shape)).astype("float32")
    return model, data


def _nested(inner, rng, shape, kind):
    """`inner` as a submodel between a producer with a ReLU before it and
    a ReLU and Dense head after it: sites cross the submodel's boundary."""
    x = keras.Input(shape)
    if kind == "vector":
        pre = L.Dense(shape[-1], activation="relu")
    else:
        pre = L.Conv2D(shape[-1], 1, activation="relu")
    h = L.ReLU()(inner(pre(x)))
    outer = keras.Model(x, L.Dense(3)(h), name=f"{inner.name}_outer")
    _pin(outer, rng)
    return outer


def _pin(model, rng):
    """Small kernels and biases far on, far off, linear or mixed."""
    linear = [layer for layer in model.layers if isinstance(layer, (L.Dense, L.Conv2D))]
    for layer in linear[:-1]:
        kernel, bias = layer.get_weights()
        bias = rng.choice([-50.0, 0.0, 3.0, 50.0], bias.shape)
        layer.set_weights([kernel * 0.05, bias.astype("float32")])
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                    rng.choice([-50.0, 3.0, 50.0], beta.shape).astype("float32"),
                    (rng.normal(size=mean.shape) * 0.1).astype("float32"),
                    rng.uniform(0.5, 2.0, var.shape).astype("float32"),
                ]
            )
