"""Sites are found through arithmetic with a scalar on symbolic tensors
(`x * 2 + 1`, `0.5 - x`, `-(x / 4)`): each is an affine map, absorbed by the
producer (before the activation) or the consumers (after it), exactly."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f

L = keras.layers


def mlp_with_arithmetic():
    """d0 -> x*2+1 -> ReLU -> 0.5-x -> d1 (relu) -> -(x/4) -> out."""
    keras.utils.set_random_seed(0)
    x = keras.Input((6,))
    h = L.Dense(12, name="d0")(x)
    h = L.ReLU(name="r0")(h * 2.0 + 1.0)
    h = L.Dense(10, activation="relu", name="d1")(0.5 - h)
    model = keras.Model(x, L.Dense(3, name="out")(-(h / 4.0)))
    return f.shape_biases(model, on=0.4, dead=0.3)


def test_sites_fold_through_scalar_arithmetic_exactly():
    model = mlp_with_arithmetic()
    x = f.data()

    small, report = f.compress_exact(model, x, atol=1e-5)

    f.assert_close(small(x), model(x), atol=1e-5)
    rows = report.set_index("site")
    assert list(rows.index) == ["r0", "d1"]
    assert rows.folded.all() and (rows.dead > 0).all()
    assert rows.loc["r0", "consumers"] == "d1"
    layers = report.linprune.layers()
    arithmetic = {"Multiply", "Add", "Subtract", "TrueDivide", "Negative"}
    ops = layers[layers.type.isin(arithmetic)]
    assert set(ops.type) == arithmetic and (ops.action == "absorbed").all()
    assert small.count_params() < 0.5 * model.count_params()
    op_types = {type(op).__name__ for op in small.operations}
    assert not op_types & {"Multiply", "Add", "Subtract", "TrueDivide", "Negative"}


def test_producer_absorbs_the_arithmetic_before_its_activation():
    """d0's kept columns become `2 * kernel` and `2 * bias + 1` (computed
    here from the original weights); the columns pinned far below zero
    (dead) or above it (linear) leave."""
    model = mlp_with_arithmetic()
    small, report = linprune.apply(model, f.data(), verbose=0)
    kernel, bias = model.get_layer("d0").get_weights()
    mixed = np.abs(bias) < 10  # not pinned to +-50
    got_kernel, got_bias = small.get_layer("d0").get_weights()
    row = report.set_index("site").loc["r0"]
    assert row.dead == (bias < -10).sum() > 0
    kept = [  # which original column each kept one is
        int(np.argmin(np.abs(2 * kernel - got_kernel[:, [j]]).sum(axis=0)))
        for j in range(got_kernel.shape[1])
    ]
    assert 0 < len(kept) and set(kept) <= set(np.flatnonzero(mixed))
    np.testing.assert_allclose(got_kernel, 2 * kernel[:, kept], rtol=1e-6)
    np.testing.assert_allclose(got_bias, 2 * bias[kept] + 1, rtol=1e-6)


@pytest.mark.parametrize(
    "between, reason",
    [
        (
            lambda h: h + L.Dense(12, name="side")(h),
            "(Add) is not a Dense or Conv layer",
        ),
        (lambda h: h * np.linspace(0.5, 2, 12), "(Multiply) is not a Dense or Conv"),
    ],
    ids=["residual", "vector-constant"],
)
def test_arithmetic_that_is_not_scalar_affine_is_copied(between, reason):
    keras.utils.set_random_seed(0)
    x = keras.Input((6,))
    h = L.Dense(12, activation="relu", name="d0")(x)
    model = keras.Model(x, L.Dense(3, name="out")(between(h)))
    model = f.shape_biases(model, on=0.4, dead=0.3)
    data = f.data()
    small, report = f.compress_exact(model, data)
    row = report.set_index("site").loc["d0"]
    assert reason in row.reason
    assert row.dead == 0  # nothing removed through an operation it cannot see
    f.assert_close(small(data), model(data), atol=1e-5)


def test_certified_fold_bounds_through_arithmetic():
    model = mlp_with_arithmetic()
    _, report = linprune.apply(model, None, input_box=(-1.0, 1.0), verbose=0)
    assert report.certified.any() and report.dead.sum() > 0
