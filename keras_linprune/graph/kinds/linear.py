"""Layers with a kernel: `Dense`, `Conv1D/2D/3D`, `Conv1D/2D/3DTranspose`.

Each can produce a fold site (its output channels are the neurons) and
consume one (its input channels are the site's neurons). The algebra sees
every kernel in one layout, `(*taps, in, out)` (`(in, out)` when there is a
single tap), and these kinds convert to and from each layer's own layout.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_linprune.core.spec import DENSE as DENSE_GEOMETRY
from keras_linprune.graph import activations
from keras_linprune.graph.kinds.base import (
    LayerKind,
    affine_bounds,
    position_rows,
    positions,
    to_numpy,
)


def _plain(layer):
    """Not quantized and without LoRA: the kernel is the weight."""
    return getattr(layer, "quantization_mode", None) is None and not getattr(
        layer, "lora_enabled", False
    )


class DenseKind(LayerKind):
    """`keras.layers.Dense`, also on sequences (per position)."""

    role = "linear"
    known = True
    width_key = "units"
    #: Whether refit can fit a term applied like this layer from the rows
    #: `feature_rows` gives.
    fits_by_rows = True

    def usable(self, layer):
        """Whether the engine may rewrite this layer's weights."""
        return _plain(layer)

    def out_channels(self, layer):
        return int(getattr(layer, self.width_key))

    def channel_axis(self, layer):
        """Axis of the channels in the layer's input and output (-1 or 1)."""
        return -1

    def taps(self, layer):
        """Number of kernel positions (1 for `Dense`)."""
        return 1

    def is_pointwise(self, layer):
        """Mixes channels only, position by position."""
        return True

    def kernel_positions(self, layer, node):
        """Positions the kernel is applied at in one call (`None` if
        unknown): the output's positions."""
        return positions(node.outputs[0].shape, self.channel_axis(layer))

    def macs(self, layer, node):
        count = self.kernel_positions(layer, node)
        return None if count is None else count * int(np.prod(layer.kernel.shape))

    def exact_on_constants(self, layer):
        """Whether a constant input channel contributes a constant output,
        so it can move into the bias (and an input affine into the kernel
        and bias) exactly."""
        return True

    def geometry(self, layer):
        """How the kernel is applied: terms with equal signatures can be
        summed into one kernel."""
        return DENSE_GEOMETRY

    def kernel_text(self, layer):
        """The kernel's geometry, for messages."""
        return "dense kernel"

    def kernel(self, layer):
        """The kernel in float64, algebra layout."""
        return to_numpy(layer.kernel)

    def set_weights(self, layer, kernel, bias=None):
        """Sets weights given in the algebra's layout."""
        weights = [self._to_layer_layout(layer, kernel)]
        if bias is not None:
            weights.append(bias)
        layer.set_weights(
            [np.asarray(w, dtype=v.dtype) for w, v in zip(weights, layer.weights)]
        )

    def _to_layer_layout(self, layer, kernel):
        return np.reshape(kernel, layer.kernel.shape)

    def make_like(
        self, layer, units, *, use_bias, name, activation="linear", keep_config=False
    ):
        """A new layer with `layer`'s geometry and `units` output channels.

        With `keep_config`, every other setting (initializers,
        regularizers, constraints, dtype) is kept, for the layer that
        replaces `layer` itself; otherwise a bare shortcut is made.
        """
        config = layer.get_config()
        if not keep_config:
            for key in list(config):
                if key.endswith(("_regularizer", "_constraint")):
                    config[key] = None
            config["activity_regularizer"] = None
        config.update(
            {
                self.width_key: units,
                "use_bias": use_bias,
                "name": name,
                "activation": activation,
            }
        )
        return type(layer).from_config(config)

    def make_pointwise(self, layer, units, *, use_bias, name, activation="linear"):
        """A channel-mixing layer to follow a `make_like` layer (the second
        half of a low-rank pair)."""
        return keras.layers.Dense(
            units,
            use_bias=use_bias,
            name=name,
            activation=activation,
            dtype=layer.dtype_policy,
        )

    def tap_shape(self, layer, taps):
        """Shape of the tap axes of a term with `taps` taps, in the algebra's
        `(*taps, in, out)` layout: none for one tap; a Dense reading a
        `Flatten` has one per flattened position."""
        return () if taps == 1 else (taps,)

    def feature_rows(self, layer, v, taps):
        """What a least-squares fit of a term applied like this layer reads
        (refit, `measurement/moments.py`): one row per output position, the
        inputs of one kernel application flattened in the kernel's
        `(*taps, in)` order, as a `keras.ops` tensor. `v` is the source
        tensor; `taps` the term's tap count."""
        if taps == 1:
            return ops.reshape(v, (-1, v.shape[-1]))
        return ops.reshape(v, (ops.shape(v)[0], -1))  # through a Flatten

    def interval(self, layer, node, bounds, pre):
        low, high = bounds[0]
        bias = to_numpy(layer.bias) if layer.use_bias else None
        z = affine_bounds(
            low,
            high,
            to_numpy(layer.kernel),
            bias,
            lambda x, k: self._apply(layer, x, k),
        )
        pre[id(node)] = z
        return activations.bounds_through(layer.activation, *z)

    def _apply(self, layer, x, kernel):
        return x @ kernel


class ConvKind(DenseKind):
    """`Conv1D/2D/3D` with `groups=1`: any kernel, strides, padding,
    dilation and data format."""

    width_key = "filters"

    def usable(self, layer):
        return layer.groups == 1 and _plain(layer)

    def channel_axis(self, layer):
        return 1 if layer.data_format == "channels_first" else -1

    def taps(self, layer):
        return math.prod(layer.kernel_size)

    def is_pointwise(self, layer):
        return all(k == 1 for k in layer.kernel_size) and all(
            s == 1 for s in layer.strides
        )

    def exact_on_constants(self, layer):
        # Zero padding would see the constant only inside the image.
        return self.is_pointwise(layer) or layer.padding == "valid"

    def geometry(self, layer):
        return (
            f"{type(layer).__name__}:k{layer.kernel_size}:"
            f"s{layer.strides}:{layer.padding}:d{layer.dilation_rate}:"
            f"{layer.data_format}"
        )

    def kernel_text(self, layer):
        size = "x".join(str(k) for k in layer.kernel_size)
        return f"{size} kernel with strides {layer.strides}"

    def kernel(self, layer):
        kernel = self._to_algebra_layout(to_numpy(layer.kernel))
        return kernel.reshape(kernel.shape[-2:]) if self.taps(layer) == 1 else kernel

    def _to_algebra_layout(self, kernel):
        return kernel

    def tap_shape(self, layer, taps):
        return () if taps == 1 else tuple(layer.kernel_size)

    def feature_rows(self, layer, v, taps):
        """The input patches the kernel is applied to, one row per output
        position, taken by a convolution with an identity kernel (the same
        strides, padding and dilation), so the row order is the kernel's
        own: exact, and one code path for 1, 2 and 3 dimensions."""
        width = int(v.shape[self.channel_axis(layer)])
        size = math.prod(layer.kernel_size) * width
        dtype = "float64" if v.dtype == "float64" else "float32"
        eye = np.eye(size, dtype=dtype).reshape(*layer.kernel_size, width, size)
        v, padding = ops.cast(v, dtype), layer.padding
        if padding == "causal":  # Conv1D: left padding, then "valid"
            left = layer.dilation_rate[0] * (layer.kernel_size[0] - 1)
            pads = [[0, 0], [0, 0], [0, 0]]
            pads[2 if layer.data_format == "channels_first" else 1][0] = left
            v, padding = ops.pad(v, pads), "valid"
        patches = ops.conv(
            v,
            eye,
            strides=layer.strides,
            padding=padding,
            data_format=layer.data_format,
            dilation_rate=layer.dilation_rate,
        )
        return position_rows(patches, self.channel_axis(layer))

    def make_pointwise(self, layer, units, *, use_bias, name, activation="linear"):
        conv = _POINTWISE[len(layer.kernel_size)]
        return conv(
            units,
            1,
            use_bias=use_bias,
            name=name,
            activation=activation,
            data_format=layer.data_format,
            dtype=layer.dtype_policy,
        )

    def _apply(self, layer, x, kernel):
        op, extra = self._op(layer)
        out = op(
            np.asarray(x, np.float32)[None],
            np.asarray(kernel, np.float32),
            strides=layer.strides,
            padding=layer.padding,
            data_format=layer.data_format,
            dilation_rate=layer.dilation_rate,
            **extra,
        )
        return to_numpy(out)[0]

    def _op(self, layer):
        """The `keras.ops` function applying the kernel, and its extra
        arguments."""
        return keras.ops.conv, {}


class ConvTransposeKind(ConvKind):
    """`Conv1D/2D/3DTranspose`. Keras stores their kernel as
    `(*taps, out, in)`: the algebra's `(in, out)` axes swapped."""

    # An output position sums a varying set of taps (at the borders and
    # between strides): no fixed patch per position for refit to fit.
    fits_by_rows = False

    def usable(self, layer):
        return _plain(layer)

    def kernel_positions(self, layer, node):
        """A transposed kernel is applied once per input position."""
        return positions(node.input_tensors[0].shape, self.channel_axis(layer))

    def exact_on_constants(self, layer):
        # Each output position sums a varying number of kernel taps (at
        # the borders, and between strides), so a constant input does not
        # give a constant output unless the kernel is pointwise.
        return self.is_pointwise(layer)

    def geometry(self, layer):
        return f"{super().geometry(layer)}:o{layer.output_padding}"

    def _to_algebra_layout(self, kernel):
        return np.swapaxes(kernel, -1, -2)

    def _to_layer_layout(self, layer, kernel):
        shape = layer.kernel.shape
        kernel = np.reshape(kernel, (*shape[:-2], shape[-1], shape[-2]))
        return np.swapaxes(kernel, -1, -2)

    def _op(self, layer):
        return keras.ops.conv_transpose, {"output_padding": layer.output_padding}


_POINTWISE = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}

DENSE = DenseKind()
CONV = ConvKind()
CONV_TRANSPOSE = ConvTransposeKind()
