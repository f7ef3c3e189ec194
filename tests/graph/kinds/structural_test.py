"""Layers that move values without weights: what site matching may walk
through, and whether a constant channel stays constant."""

import keras
import pytest

from keras_linprune.graph import registry

L = keras.layers


@pytest.mark.parametrize(
    "layer,keeps_constants",
    [
        (L.MaxPooling2D(), True),
        (L.GlobalAveragePooling2D(), True),
        (L.UpSampling2D(), True),
        (L.ZeroPadding2D(), False),  # a constant channel gets zero borders
        (L.Flatten(), True),
    ],
)
def test_channel_passes_and_constants(layer, keeps_constants):
    kind = registry.kind_of(layer)
    assert kind.role == "channel_pass"
    assert kind.keeps_constants is keeps_constants


def test_global_pooling_keeps_the_channels_of_its_data_format():
    last = registry.kind_of(L.GlobalAveragePooling2D())
    assert last.keeps_channels(L.GlobalAveragePooling2D(), channel_axis=-1)
    first = L.GlobalAveragePooling2D(data_format="channels_first")
    assert not last.keeps_channels(first, channel_axis=1)
    assert last.keeps_channels(
        L.GlobalAveragePooling2D(data_format="channels_first", keepdims=True), 1
    )
