"""Small example architectures, one per graph construct the engine handles.

Used by the test zoo and `benchmarks/zoo_compression.py`; handy as examples
of what `apply` folds. Each builder returns an uncompiled functional model;
`inputs_for(model, n)` draws matching random inputs.

Example:

>>> model = residual_mlp()
>>> inputs_for(model, 4).shape
(4, 16)
"""

import keras
import numpy as np

from keras_linprune.graph import keras_internals as internals

L = keras.layers


def residual_mlp(width=16, hidden=64, blocks=2, seed=0):
    """Pre-activation residual MLP: x + Dense(Dense(x, relu))."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((width,), name="x")
    h = x
    for i in range(blocks):
        inner = L.Dense(hidden, activation="relu", name=f"block{i}_up")(h)
        inner = L.Dense(width, name=f"block{i}_down")(inner)
        h = L.Add(name=f"block{i}_add")([h, inner])
    return keras.Model(x, L.Dense(3, name="out")(h), name="residual_mlp")


def two_branch(seed=0):
    """One activation feeding two Dense branches, merged by Concatenate."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((12,), name="x")
    h = L.Dense(48, activation="relu", name="trunk")(x)
    a = L.Dense(24, activation="relu", name="branch_a")(h)
    b = L.Dense(24, activation="relu", name="branch_b")(L.Dropout(0.1)(h))
    merged = L.Concatenate(name="merge")([a, b])
    return keras.Model(x, L.Dense(2, name="out")(merged), name="two_branch")


def multi_io(seed=0):
    """Two inputs, two named outputs."""
    keras.utils.set_random_seed(seed)
    a = keras.Input((8,), name="a")
    b = keras.Input((5,), name="b")
    h = L.Concatenate()(
        [
            L.Dense(16, activation="relu", name="enc_a")(a),
            L.Dense(16, activation="relu", name="enc_b")(b),
        ]
    )
    h = L.Dense(32, activation="relu", name="joint")(h)
    out1 = L.Dense(3, activation="softmax", name="label")(h)
    out2 = L.Dense(1, name="score")(h)
    return keras.Model(
        {"a": a, "b": b}, {"label": out1, "score": out2}, name="multi_io"
    )


def nested(seed=0):
    """A Sequential block used as a layer inside a functional model."""
    keras.utils.set_random_seed(seed)
    block = keras.Sequential(
        [
            keras.Input((24,)),
            L.Dense(48, activation="relu", name="up"),
            L.Dense(24, name="down"),
        ],
        name="block",
    )
    x = keras.Input((10,), name="x")
    h = L.Dense(24, activation="relu", name="stem")(x)
    return keras.Model(x, L.Dense(2, name="out")(block(h)), name="nested")


def shared_layer(seed=0):
    """A siamese tower: the same Dense/ReLU layers applied to two inputs."""
    keras.utils.set_random_seed(seed)
    a, b = keras.Input((8,), name="a"), keras.Input((8,), name="b")
    up = L.Dense(32, activation="relu", name="shared_up")
    down = L.Dense(8, activation="relu", name="shared_down")
    h = L.Concatenate()([down(up(a)), down(up(b))])
    h = L.Dense(16, activation="relu", name="head_hidden")(h)
    return keras.Model([a, b], L.Dense(1, name="out")(h), name="shared_layer")


def activation_mlp(kind="leaky_relu", seed=0):
    """A Dense MLP with LeakyReLU, PReLU or ReLU6 activations."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((10,), name="x")
    h = x
    make = {
        "leaky_relu": lambda name: L.LeakyReLU(0.1, name=name),
        "prelu": lambda name: L.PReLU(name=name),
        "relu6": lambda name: L.ReLU(max_value=6.0, name=name),
    }[kind]
    for i, w in enumerate((64, 64, 32)):
        h = L.Dense(w, name=f"d{i}")(h)
        h = make(f"act{i}")(h)
    return keras.Model(x, L.Dense(2, name="out")(h), name=f"{kind}_mlp")


def dense_bn_relu(seed=0):
    """Dense -> BatchNormalization -> ReLU blocks."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((10,), name="x")
    h = x
    for i, w in enumerate((64, 64)):
        h = L.Dense(w, use_bias=False, name=f"d{i}")(h)
        h = L.BatchNormalization(name=f"bn{i}")(h)
        h = L.ReLU(name=f"relu{i}")(h)
    return keras.Model(x, L.Dense(2, name="out")(h), name="dense_bn_relu")


def small_cnn(padding="same", strides=1, seed=0):
    """Conv2D 3x3 -> ReLU -> Conv2D 1x1 -> ReLU -> pooling -> Dense."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((12, 12, 3), name="image")
    h = L.Conv2D(
        32, 3, strides=strides, padding=padding, activation="relu", name="conv3x3"
    )(x)
    h = L.Conv2D(16, 1, activation="relu", name="conv1x1")(h)
    h = L.GlobalAveragePooling2D()(h)
    return keras.Model(x, L.Dense(4, name="out")(h), name=f"cnn_{padding}_s{strides}")


def inverted_residual(seed=0):
    """MobileNetV2 block: 1x1 expand -> ReLU6 -> depthwise 3x3 -> ReLU6 ->
    1x1 project, with a residual Add."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((10, 10, 8), name="image")
    h = L.Conv2D(48, 1, use_bias=False, name="expand")(x)
    h = L.BatchNormalization(name="expand_bn")(h)
    h = L.ReLU(6.0, name="expand_relu")(h)
    h = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(h)
    h = L.BatchNormalization(name="dw_bn")(h)
    h = L.ReLU(6.0, name="dw_relu")(h)
    h = L.Conv2D(8, 1, use_bias=False, name="project")(h)
    h = L.BatchNormalization(name="project_bn")(h)
    h = L.Add(name="residual")([x, h])
    h = L.GlobalAveragePooling2D()(h)
    return keras.Model(x, L.Dense(3, name="out")(h), name="inverted_residual")


def transformer_block(seq=8, dim=16, heads=2, ffn=64, seed=0):
    """Encoder block: MultiHeadAttention + residual + LayerNorm, then the
    feed-forward `Dense(ffn, relu) -> Dense(dim)` with residual + LayerNorm."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((seq, dim), name="tokens")
    att = L.MultiHeadAttention(heads, dim // heads, name="mha")(x, x)
    h = L.LayerNormalization(name="ln1")(L.Add()([x, att]))
    f = L.Dense(ffn, activation="relu", name="ffn_in")(h)
    f = L.Dense(dim, name="ffn_out")(L.Dropout(0.1)(f))
    h = L.LayerNormalization(name="ln2")(L.Add()([h, f]))
    h = L.GlobalAveragePooling1D()(h)
    return keras.Model(x, L.Dense(2, name="out")(h), name="transformer_block")


#: Every builder, by name.
BUILDERS = {
    "residual_mlp": residual_mlp,
    "two_branch": two_branch,
    "multi_io": multi_io,
    "nested": nested,
    "shared_layer": shared_layer,
    "leaky_relu_mlp": lambda: activation_mlp("leaky_relu"),
    "prelu_mlp": lambda: activation_mlp("prelu"),
    "relu6_mlp": lambda: activation_mlp("relu6"),
    "dense_bn_relu": dense_bn_relu,
    "cnn_same": lambda: small_cnn("same", 1),
    "cnn_valid_s2": lambda: small_cnn("valid", 2),
    "inverted_residual": inverted_residual,
    "transformer_block": transformer_block,
}


def inputs_for(model, n, seed=0):
    """Random standard-normal inputs in the structure `model` expects."""
    rng = np.random.default_rng(seed)

    def draw(t):
        return rng.normal(size=(n, *t.shape[1:])).astype("float32")

    return keras.tree.map_structure(draw, internals.inputs_structure(model))
