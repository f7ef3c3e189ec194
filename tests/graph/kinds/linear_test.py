"""Linear kinds: kernel layouts, constants, and the layers they make."""

import keras
import numpy as np
import pytest

from keras_linprune.graph import registry

L = keras.layers


def built(layer, shape):
    layer.build(shape)
    rng = np.random.default_rng(0)
    layer.set_weights(
        [rng.normal(size=w.shape).astype("float32") for w in layer.weights]
    )
    return layer


def test_grouped_convs_are_not_rewritten():
    assert registry.linear_kind(L.Conv2D(4, 3, groups=2)) is None
    assert registry.linear_kind(L.Conv2D(4, 3)) is not None


@pytest.mark.parametrize(
    "layer,shape",
    [
        (L.Dense(3), (None, 4)),
        (L.Conv1D(3, 2), (None, 5, 4)),
        (L.Conv2D(3, 1), (None, 5, 5, 4)),
        (L.Conv2DTranspose(3, 2, strides=2), (None, 5, 5, 4)),
        (L.Conv3DTranspose(3, 1), (None, 3, 3, 3, 4)),
    ],
)
def test_kernel_layout_round_trip(layer, shape):
    layer = built(layer, shape)
    kind = registry.linear_kind(layer)
    before = [w.copy() for w in layer.get_weights()]
    kernel = kind.kernel(layer)
    assert kernel.shape[-2:] == (4, 3)  # (in, out) in the algebra
    kind.set_weights(layer, kernel, before[1])
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_transposed_kernel_swaps_in_and_out():
    layer = built(L.Conv2DTranspose(3, 2), (None, 5, 5, 4))
    stored = keras.ops.convert_to_numpy(layer.kernel)  # (2, 2, out, in)
    kernel = registry.linear_kind(layer).kernel(layer)  # (2, 2, in, out)
    np.testing.assert_array_equal(kernel[1, 0, 3, 2], stored[1, 0, 2, 3])


@pytest.mark.parametrize(
    "layer,exact",
    [
        (L.Dense(2), True),
        (L.Conv2D(2, 1), True),
        (L.Conv2D(2, 3, padding="valid"), True),
        (L.Conv2D(2, 3, padding="same"), False),
        (L.Conv2DTranspose(2, 1), True),
        (L.Conv2DTranspose(2, 3, padding="valid"), False),
        (L.Conv2DTranspose(2, 2, strides=2), False),
    ],
)
def test_exact_on_constants(layer, exact):
    assert registry.linear_kind(layer).exact_on_constants(layer) is exact


def test_shortcut_keeps_the_geometry_and_drops_regularizers():
    layer = L.Conv2DTranspose(
        8,
        3,
        strides=2,
        padding="same",
        output_padding=1,
        kernel_regularizer="l2",
        name="p",
    )
    kind = registry.linear_kind(layer)
    shortcut = kind.make_like(layer, 5, use_bias=False, name="s")
    assert isinstance(shortcut, L.Conv2DTranspose)
    assert (shortcut.filters, shortcut.strides, shortcut.output_padding) == (
        5,
        (2, 2),
        (1, 1),
    )
    assert shortcut.kernel_regularizer is None and not shortcut.use_bias
    up = kind.make_pointwise(layer, 7, use_bias=True, name="u")
    assert isinstance(up, L.Conv2D) and up.kernel_size == (1, 1)
