"""The linear layers the engine can rewrite: `Dense` and `Conv1D/2D/3D`.

Everything specific to a layer type lives here: output channels, channel
axis, kernel taps, the kernel in the algebra's layout, and how to emit a new
layer with the same geometry (kernel size, strides, padding, dilation, data
format) but other widths and weights.
"""

import math

import keras
import numpy as np

from keras_linprune import algebra

CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _plain(layer):
    return (getattr(layer, "quantization_mode", None) is None
            and not getattr(layer, "lora_enabled", False))


def is_linear_op(layer):
    """A built-in, unquantized `Dense`, or a `ConvND` with `groups=1`."""
    if type(layer) is keras.layers.Dense:
        return _plain(layer)
    return type(layer) in CONV_TYPES and layer.groups == 1 and _plain(layer)


def is_conv(layer):
    return type(layer) in CONV_TYPES


def out_channels(layer):
    return int(layer.filters if is_conv(layer) else layer.units)


def channel_axis(layer):
    """Axis of the channels in the layer's input and output (-1 or 1)."""
    if is_conv(layer) and layer.data_format == "channels_first":
        return 1
    return -1


def taps(layer):
    """Number of kernel positions (1 for `Dense`)."""
    return math.prod(layer.kernel_size) if is_conv(layer) else 1


def is_pointwise(layer):
    """Mixes channels only: `Dense`, or a conv with kernel and strides 1."""
    if not is_conv(layer):
        return True
    return (all(k == 1 for k in layer.kernel_size)
            and all(s == 1 for s in layer.strides))


def geometry_signature(layer):
    """How the layer applies its kernel: terms with equal signatures can be
    summed into one kernel."""
    if not is_conv(layer):
        return "dense"
    return (f"{type(layer).__name__}:k{layer.kernel_size}:s{layer.strides}:"
            f"{layer.padding}:d{layer.dilation_rate}:{layer.data_format}")


def kernel_size_text(layer):
    return "x".join(str(k) for k in layer.kernel_size)


def to_numpy(variable):
    """A Keras variable or tensor as a float64 NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(variable), np.float64)


def algebra_kernel(layer):
    """The kernel in float64, `(in, out)` when the layer has one tap."""
    kernel = to_numpy(layer.kernel)
    return kernel.reshape(kernel.shape[-2:]) if taps(layer) == 1 else kernel


def norm_affine(layer):
    """`(scale, shift)` of a BatchNormalization layer at inference."""
    return algebra.norm_scale_shift(
        to_numpy(layer.gamma) if layer.scale else None,
        to_numpy(layer.beta) if layer.center else None,
        to_numpy(layer.moving_mean), to_numpy(layer.moving_variance),
        layer.epsilon,
    )


def make_like(layer, units, *, use_bias, name, activation="linear",
              keep_config=False):
    """A new layer with `layer`'s geometry and `units` output channels.

    With `keep_config`, every other setting (initializers, regularizers,
    constraints, dtype) is kept, for the layer that replaces `layer`
    itself; otherwise a bare bias-free shortcut is made.
    """
    config = layer.get_config()
    width_key = "filters" if is_conv(layer) else "units"
    if not keep_config:
        for key in list(config):
            if key.endswith(("_regularizer", "_constraint")):
                config[key] = None
        config["activity_regularizer"] = None
    config.update({width_key: units, "use_bias": use_bias, "name": name,
                   "activation": activation})
    return type(layer).from_config(config)


def make_pointwise_like(layer, units, *, use_bias, name, activation="linear"):
    """A channel-mixing layer of `layer`'s kind: `Dense`, or a conv of the
    same rank and data format with kernel size 1."""
    if not is_conv(layer):
        return keras.layers.Dense(units, use_bias=use_bias, name=name,
                                  activation=activation,
                                  dtype=layer.dtype_policy)
    return type(layer)(units, 1, use_bias=use_bias, name=name,
                       activation=activation, data_format=layer.data_format,
                       dtype=layer.dtype_policy)


def low_rank_factors(kernel, rank):
    """`kernel` (`(*taps, in, out)`) as `down @ up` through `rank` channels.

    Exact (to float rounding) when `rank` bounds the rank of the kernel
    flattened to `(taps * in, out)`, as the planner guarantees: the range of
    `kernel @ omega` for a Gaussian `omega` with `rank` columns is then the
    kernel's range, so `Q (Q^T kernel)` with `Q` from a QR factorization
    reproduces it. That costs one thin product instead of a full SVD (0.18 s
    for the three shortcuts of the 2.8M-parameter benchmark MLP).
    """
    flat = kernel.reshape(-1, kernel.shape[-1])
    omega = np.random.default_rng(0).standard_normal((flat.shape[1], rank))
    q, _ = np.linalg.qr(flat @ omega)
    down = q.reshape(*kernel.shape[:-1], rank)
    return down, q.T @ flat


def set_kernel(layer, kernel, bias=None):
    """Sets weights given in the algebra's layout (reshaped as needed)."""
    weights = [np.reshape(kernel, layer.kernel.shape)]
    if bias is not None:
        weights.append(bias)
    layer.set_weights([np.asarray(w, dtype=v.dtype)
                       for w, v in zip(weights, layer.weights)])
