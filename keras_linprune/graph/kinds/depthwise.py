"""`DepthwiseConv1D/2D`: a convolution per channel, no mixing.

An input channel that is zero everywhere (a dead neuron) gives an output
channel equal to the bias everywhere: zero padding pads zeros with zeros. So
a site's dead channels can be removed through a depthwise consumer when
what follows turns that constant into one: per-channel layers up to linear
consumers that take a constant input channel into their bias
(`graph/sites/consumers.py`). Linear neurons do not fold through it (the
shortcut would have to be a depthwise convolution too).
"""

import numpy as np

from keras_linprune.graph.kinds.base import LayerKind, kernel_macs, to_numpy


def _channel_problem(layer, channel_axis):
    """Why a per-channel convolution cannot lose input channels (quantized,
    or its channels on another axis than the site's), or ""."""
    name = f"'{layer.name}' ({type(layer).__name__})"
    if getattr(layer, "quantization_mode", None) is not None:
        return f"{name} is quantized"
    axis = 1 if layer.data_format == "channels_first" else -1
    if axis != channel_axis:
        return f"{name} does not read the channel axis"
    return ""


class DepthwiseKind(LayerKind):
    role = "depthwise"
    known = True
    #: A constant channel is not constant after a padded kernel.
    keeps_constants = False

    def problem(self, layer, channel_axis):
        """Why dead channels cannot be removed through this layer, or ""."""
        if layer.depth_multiplier != 1:
            name = f"'{layer.name}' ({type(layer).__name__})"
            return f"{name} has depth_multiplier {layer.depth_multiplier}"
        return _channel_problem(layer, channel_axis)

    def macs(self, layer, node):
        return kernel_macs(layer, node, node.outputs[0], layer.kernel)

    def narrow_weights(self, layer, keep, channel_axis):
        """Kernel `(*taps, channels, 1)` and bias of the kept channels."""
        weights = layer.get_weights()
        narrowed = [np.take(weights[0], keep, axis=-2)]
        return narrowed + [np.take(w, keep, axis=0) for w in weights[1:]]


def dead_channel_values(channel_maps, channel_axis):
    """What a zero input channel becomes after `channel_maps` (a depthwise
    layer and the per-channel layers after it): the depthwise bias, mapped
    by the other layers. One value per channel, float64."""
    depthwise = channel_maps[0]
    channels = int(depthwise.output.shape[channel_axis])
    shape = [1] * len(depthwise.output.shape)
    shape[channel_axis] = channels
    x = np.zeros(channels)
    if depthwise.use_bias:
        x = to_numpy(depthwise.bias)
    x = np.reshape(x, shape).astype("float32")
    for layer in channel_maps[1:]:
        x = layer(x)
    return to_numpy(x).reshape(-1)


class SeparableKind(LayerKind):
    """`SeparableConv1D/2D`: a depthwise convolution without bias, then a
    pointwise one. A dead input channel (zero everywhere) is zero after the
    depthwise stage, so it leaves both kernels and nothing else changes: the
    layer is a reader narrowed with the site's kept channels. Linear and
    non-zero constant channels stay (the fold algebra does not rewrite
    separable kernels)."""

    role = "separable"
    known = True

    def problem(self, layer, channel_axis):
        """Why dead channels cannot leave this layer, or ""."""
        return _channel_problem(layer, channel_axis)

    def macs(self, layer, node):
        kernels = (layer.depthwise_kernel, layer.pointwise_kernel)
        return kernel_macs(layer, node, node.outputs[0], *kernels)

    def channel_params(self, layer, width):
        """Depthwise taps and pointwise rows of one input channel."""
        taps = int(np.prod(layer.kernel_size))
        return layer.depth_multiplier * (taps + layer.filters)

    def narrow_weights(self, layer, keep, channel_axis):
        """Depthwise kernel `(*taps, channels, multiplier)` and pointwise
        rows (channel `c`, multiplier `m` is row `c * multiplier + m`) of
        the kept channels; the bias is unchanged."""
        depthwise, pointwise, *bias = layer.get_weights()
        m = layer.depth_multiplier
        rows = (np.asarray(keep)[:, None] * m + np.arange(m)).reshape(-1)
        return [
            np.take(depthwise, keep, axis=-2),
            np.take(pointwise, rows, axis=-2),
            *bias,
        ]


DEPTHWISE = DepthwiseKind()
SEPARABLE = SeparableKind()
