"""The layer registry: one table from Keras layer classes to layer kinds.

Everything the engine knows about a layer type is in its kind
(`kinds/`); this table is the only place that says which class has which
kind. Classes are matched exactly: a subclass of `Dense` may compute
something else, so it is opaque (copied unchanged) unless registered.

Adding a layer type means adding one row here, and a kind in `kinds/` if
no existing kind fits (docs/design.md, "Adding a layer type").

Example:

>>> import keras
>>> kind_of(keras.layers.Dense(3)).role
'linear'
>>> kind_of(keras.layers.LayerNormalization()).role
'opaque'
"""

import keras

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph.kinds import (
    activation,
    arithmetic,
    depthwise,
    linear,
    norm,
    structural,
)
from keras_linprune.graph.kinds.base import LayerKind

L = keras.layers

#: Layer class -> kind.
KINDS = {
    L.InputLayer: structural.INPUT,
    L.Dense: linear.DENSE,
    L.Conv1D: linear.CONV,
    L.Conv2D: linear.CONV,
    L.Conv3D: linear.CONV,
    L.Conv1DTranspose: linear.CONV_TRANSPOSE,
    L.Conv2DTranspose: linear.CONV_TRANSPOSE,
    L.Conv3DTranspose: linear.CONV_TRANSPOSE,
    L.DepthwiseConv1D: depthwise.DEPTHWISE,
    L.DepthwiseConv2D: depthwise.DEPTHWISE,
    L.SeparableConv1D: depthwise.SEPARABLE,
    L.SeparableConv2D: depthwise.SEPARABLE,
    L.BatchNormalization: norm.BATCH_NORM,
    L.ReLU: activation.RELU,
    L.LeakyReLU: activation.LEAKY_RELU,
    L.PReLU: activation.PRELU,
    L.ELU: activation.ELU,
    L.Activation: activation.FUNCTION,
    L.Softmax: activation.UNSUPPORTED,
    L.Dropout: structural.IDENTITY,
    L.GaussianNoise: structural.IDENTITY,
    L.GaussianDropout: structural.IDENTITY,
    L.AlphaDropout: structural.IDENTITY,
    L.ActivityRegularization: structural.IDENTITY,
    L.Identity: structural.IDENTITY,
    L.MaxPooling1D: structural.POOLING,
    L.MaxPooling2D: structural.POOLING,
    L.MaxPooling3D: structural.POOLING,
    L.AveragePooling1D: structural.POOLING,
    L.AveragePooling2D: structural.POOLING,
    L.AveragePooling3D: structural.POOLING,
    L.ZeroPadding1D: structural.ZERO_PADDING,
    L.ZeroPadding2D: structural.ZERO_PADDING,
    L.ZeroPadding3D: structural.ZERO_PADDING,
    L.Concatenate: structural.CONCATENATE,
    L.Add: structural.ADD,
    L.Flatten: structural.FLATTEN,
    L.Reshape: structural.FLATTEN,
    L.Permute: structural.STRUCTURAL,
    L.GlobalAveragePooling1D: structural.POOLING,
    L.GlobalAveragePooling2D: structural.POOLING,
    L.GlobalAveragePooling3D: structural.POOLING,
    L.GlobalMaxPooling1D: structural.POOLING,
    L.GlobalMaxPooling2D: structural.POOLING,
    L.GlobalMaxPooling3D: structural.POOLING,
    L.Cropping1D: structural.STRUCTURAL,
    L.Cropping2D: structural.STRUCTURAL,
    L.Cropping3D: structural.STRUCTURAL,
    L.UpSampling1D: structural.POOLING,
    L.UpSampling2D: structural.POOLING,
    L.UpSampling3D: structural.POOLING,
    L.RepeatVector: structural.STRUCTURAL,
}

# Operations that are not layers: `x + c`, `x * c`, ... (`kinds/arithmetic`).
KINDS.update(
    {
        op: arithmetic.BY_OP_NAME[name]
        for name, op in internals.arithmetic_op_classes().items()
    }
)

#: The kind of every unregistered class.
OPAQUE = LayerKind()


def kind_of(layer):
    """The `LayerKind` of a layer (`OPAQUE` for unregistered classes)."""
    return KINDS.get(type(layer), OPAQUE)


def linear_kind(layer):
    """The linear kind of `layer` when the engine may rewrite its kernel
    (a registered linear class, not quantized, `groups=1`), else `None`."""
    kind = kind_of(layer)
    if kind.role == "linear" and kind.usable(layer):
        return kind
    return None
