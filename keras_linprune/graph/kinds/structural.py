"""Layers without weights of their own that sites look through or that
merge tensors: inputs, inference identities, pooling and padding,
`Concatenate`, `Add`, reshaping layers."""

import keras
import numpy as np

from keras_linprune.graph.kinds.base import LayerKind, monotone_bounds


class InputKind(LayerKind):
    role = "input"
    known = True


class IdentityKind(LayerKind):
    """The identity at inference (`Dropout` and friends): a site's
    activation passes through unchanged."""

    role = "identity"
    known = True

    def interval(self, layer, node, bounds, pre):
        return bounds[0]


class StructuralKind(LayerKind):
    """Reshapes, crops, repeats or pools values: non-decreasing in each
    input element, so bounds map to bounds by applying the layer."""

    role = "structural"

    def interval(self, layer, node, bounds, pre):
        return monotone_bounds(layer, *bounds[0])


class ChannelPassKind(StructuralKind):
    """Pooling (local and global), upsampling and zero padding: channel by
    channel, an all-zero channel stays zero, so dead channels can be removed
    through them (linear neurons do not fold through them: the shortcut
    would have to be pooled too).

    Attributes:
        keeps_constants: Whether a constant channel stays the same constant
            (pooling) or not (zero padding adds zeros at the borders).
    """

    role = "channel_pass"

    def __init__(self, keeps_constants):
        self.keeps_constants = keeps_constants

    def keeps_channels(self, layer, channel_axis):
        """Whether the layer keeps channels on `channel_axis` (global
        pooling keeps them last, or first for channels_first data)."""
        data_format = getattr(layer, "data_format", "channels_last")
        if getattr(layer, "keepdims", True) is False and channel_axis == 1:
            return False  # channels_first input, pooled to (batch, channels)
        return (channel_axis == 1) == (data_format == "channels_first")


class FlattenKind(ChannelPassKind):
    """`Flatten`, and `Reshape((-1,))` (a fixed size would not fit the
    narrowed input): channels-last values
    `(..., positions, channels)` become one vector in which channel `c` at
    position `p` is entry `p * channels + c`. A Dense reading it sees each
    channel at every position, like a valid convolution whose kernel covers
    the whole input, so dead and constant channels leave its kernel rows
    (`flattens = True`: the walk gives the consumer one tap per position).
    """

    flattens = True

    def __init__(self):
        super().__init__(keeps_constants=True)

    def keeps_channels(self, layer, channel_axis):
        if isinstance(layer, keras.layers.Reshape) and layer.target_shape != (-1,):
            return False
        data_format = getattr(layer, "data_format", "channels_last")
        return channel_axis == -1 and data_format == "channels_last"


class ConcatenateKind(LayerKind):
    """`Concatenate`: a site feeding it folds into its linear readers, one
    block of kernel rows per part."""

    role = "concatenate"

    def interval(self, layer, node, bounds, pre):
        axis = layer.axis if layer.axis < 0 else layer.axis - 1
        return (
            np.concatenate([b[0] for b in bounds], axis=axis),
            np.concatenate([b[1] for b in bounds], axis=axis),
        )


class AddKind(LayerKind):
    role = "add"

    def interval(self, layer, node, bounds, pre):
        return (sum(b[0] for b in bounds), sum(b[1] for b in bounds))


INPUT = InputKind()
IDENTITY = IdentityKind()
STRUCTURAL = StructuralKind()
POOLING = ChannelPassKind(keeps_constants=True)
ZERO_PADDING = ChannelPassKind(keeps_constants=False)
FLATTEN = FlattenKind()
CONCATENATE = ConcatenateKind()
ADD = AddKind()
