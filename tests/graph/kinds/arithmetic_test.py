"""`x * c + d` operations on symbolic tensors as scalar affine maps."""

import keras
import numpy as np
import pytest

from keras_linprune.graph import nodes, registry


def operations(fn):
    x = keras.Input((3,))
    model = keras.Model(x, fn(keras.layers.Dense(3)(x)))
    return [n.operation for n in nodes.ordered_nodes(model)][1:]


@pytest.mark.parametrize(
    "fn,scale,shift",
    [
        (lambda h: h * 2.0, 2.0, 0.0),
        (lambda h: 0.5 - h, -1.0, 0.5),
        (lambda h: h / 4.0, 0.25, 0.0),
        (lambda h: -h, -1.0, 0.0),
        (lambda h: h + 1.0, 1.0, 1.0),
    ],
)
def test_scalar_operations_are_affine(fn, scale, shift):
    (op,) = operations(fn)
    kind = registry.kind_of(op)
    assert kind.role == "norm" and kind.foldable(op, calls=1)
    got_scale, got_shift = kind.affine(op)
    np.testing.assert_allclose(got_scale, [scale] * 3)
    np.testing.assert_allclose(got_shift, [shift] * 3)


def test_an_operation_on_two_tensors_does_not_fold():
    (op,) = operations(lambda h: h * h)
    assert not registry.kind_of(op).foldable(op, calls=1)
