"""Activation pieces: ReLU's variants as pieces, and their output bounds."""

import math

import numpy as np

from keras_linprune.core import pieces


def test_relu_is_a_dead_piece_then_the_identity():
    relu = pieces.RELU
    assert [p.is_constant for p in relu.pieces] == [True, False]
    assert relu.pieces[1].value_at(3.0) == 3.0 and relu.pieces[0].value_at(-2.0) == 0
    assert relu.principal == 1


def test_relu6_with_leak_and_threshold():
    ps = pieces.relu_pieces(negative_slope=0.1, max_value=6.0, threshold=1.0)
    z = np.array([-5.0, 0.5, 2.0, 10.0])
    # keras.activations.relu: leak below the threshold, identity, then 6.
    expected = [0.1 * (-5.0 - 1.0), 0.1 * (0.5 - 1.0), 2.0, 6.0]
    got = []
    for v in z:
        (p,) = [p for p in ps if p.lo <= v < p.hi]
        got.append(float(p.value_at(v)))
    np.testing.assert_allclose(got, expected)
    assert ps[-1].is_constant and not ps[0].is_constant


def test_output_bounds_of_each_piece():
    bounds = pieces.Activation("relu6", pieces.relu_pieces(max_value=6.0), 1)
    b = bounds.h_bounds()
    assert b[0] == (0.0, True, 0.0)  # dead: exactly 0
    assert b[1] == (0.0, False, 6.0)  # identity: 0 < h < 6
    assert b[2] == (6.0, True, 6.0)  # saturated: exactly 6
    assert math.isinf(pieces.INF)
