"""Multiply-accumulates: the plan's count equals one made from the layers of
the rebuilt model (kernel size times the positions it is applied at), and
`objective="macs"` makes the site rules minimise it."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
from keras_linprune.plan import layout, planner
from tests import factories as f
from tests.factories import cnn, images, pin_channels

L = keras.layers


def macs_of(model):
    """Kernel multiply-accumulates per example, from the layers themselves:
    every kernel weight once per output position (per input position for a
    transposed convolution), nested models included."""
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if not isinstance(layer, (L.Dense, L.Conv1D, L.Conv2D, L.Conv3D)):
            if not isinstance(layer, (L.DepthwiseConv2D, L.SeparableConv2D)):
                continue
        transposed = isinstance(layer, (L.Conv2DTranspose, L.Conv1DTranspose))
        shape = (layer.input if transposed else layer.output).shape
        channels_first = getattr(layer, "data_format", "") == "channels_first"
        spatial = shape[2:] if channels_first else shape[1:-1]
        kernels = [w for w in layer.weights if "kernel" in w.path]
        total += int(np.prod(spatial)) * sum(int(np.prod(k.shape)) for k in kernels)
    return total


@pytest.mark.parametrize(
    "build",
    [
        lambda: f.shape_biases(f.mlp((10, 24, 16, 3)), on=0.4, dead=0.2),
        lambda: pin_channels(
            cnn(L.Conv2D(16, 3, strides=2, padding="same", name="c0"), L.Conv2D(8, 1))
        ),
        lambda: pin_channels(
            cnn(L.Conv2D(12, 3, padding="same", name="c0"), L.Conv2D(6, 3))
        ),
    ],
    ids=["mlp", "strided-conv-into-1x1", "conv-into-3x3"],
)
def test_plan_macs_equal_the_rebuilt_layers(build):
    model = build()
    x = f.data(256, 10) if len(model.input.shape) == 2 else images()
    small, report = f.compress_exact(model, x, layer_threshold=0)
    assert (report.folded | (report.dead > 0)).any()
    assert report.attrs["macs_before"] == macs_of(model)
    assert report.attrs["macs_after"] == macs_of(small) < macs_of(model)


def test_a_fold_that_only_saves_biases_and_slopes_is_declined_for_macs():
    """A low-rank fold of k PReLU neurons between Dense layers saves 2k
    parameters (biases and slopes), no multiply-accumulate at all, and
    emits two layers (the shortcut's first half and a Concatenate): the
    parameter objective takes it (issue 23: layers cost no parameter), the
    MAC objective declines it."""
    keras.utils.set_random_seed(0)
    x = keras.Input((20,))
    h = L.PReLU(name="act")(L.Dense(20, name="p")(x))
    model = keras.Model(x, L.Dense(20, name="c")(h))
    p = model.get_layer("p")
    kernel, bias = p.get_weights()
    bias[:3] = 50.0  # three neurons always in the identity piece
    p.set_weights([kernel * 0.1, bias])
    data = f.data(256, 20)

    _, by_params = f.compress_exact(model, data, layer_threshold="optimal")
    _, by_macs = f.compress_exact(
        model, data, layer_threshold="optimal", objective="macs"
    )
    forced, _ = f.compress_exact(model, data, layer_threshold=0)

    # Forced, the fold saves 2 * 3 parameters and adds two layers ...
    assert forced.count_params() == model.count_params() - 6
    assert len(forced.layers) == len(model.layers) + 2
    # ... which the parameter objective takes as the smallest model,
    assert by_params.folded.iloc[0]
    assert by_params.attrs["params_after"] == forced.count_params()
    # and the MAC objective declines for want of a saving.
    assert not by_macs.folded.iloc[0]
    assert "would not lower the multiply-accumulates" in by_macs.reason.iloc[0]
    assert by_macs.attrs["objective"] == "macs"


def test_total_macs_from_a_hand_written_spec():
    """d0 (Dense 4 -> 8, at 5 positions) -> ReLU -> d1 (8 -> 2): fold 3
    linear neurons through a rank-3 shortcut, 2 dead neurons removed."""
    spec = GraphSpec(
        {
            "d0": LinearSpec("d0", "x", 4, 8, True, positions=5),
            "d1": LinearSpec("d1", "d0", 8, 2, True, positions=5),
        },
        (SiteSpec("d0", "d0", ("d1",), 8),),
        (),
        total_params=58,
        total_macs=5 * (4 * 8 + 8 * 2),
    )
    rates = {"d0": np.array([1, 1, 1, 0, 0, 0.5, 0.5, 0.5])}
    plan = planner.make_plan(spec, rates, layer_threshold=0, shortcut="dense")
    # kept 3: d0 4x3, d1 3x2 + shortcut 4x2, at 5 positions
    assert plan.macs == 5 * (4 * 3 + 3 * 2 + 4 * 2)
    assert layout.total_macs(spec, plan.decisions, plan.layout) == plan.macs


def test_objective_macs_needs_static_spatial_sizes():
    x = keras.Input((None, None, 3))
    h = L.Conv2D(4, 3, activation="relu")(x)
    model = keras.Model(x, L.Dense(2)(L.GlobalAveragePooling2D()(h)))
    with pytest.raises(ValueError, match="static spatial sizes.*Received"):
        linprune.apply(model, images(8), objective="macs", verbose=0)
    _, report = linprune.apply(model, images(8), verbose=0)
    assert report.attrs["macs_before"] is None and np.isnan(report.macs_after).all()


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="objective.*Received: objective='speed'"):
        linprune.apply(f.mlp((4, 8, 2)), f.data(8, 4), objective="speed")


def test_apply_with_the_latency_objective_uses_the_cached_calibration(
    monkeypatch, tmp_path
):
    from keras_linprune.measurement import latency_model as lm

    monkeypatch.setenv("KERAS_LINPRUNE_CACHE", str(tmp_path))
    monkeypatch.setattr(
        lm, "calibrate", lambda batch, repeats: lm.LatencyModel(0.0, 1e-9, batch)
    )
    model = f.shape_biases(f.mlp((10, 24, 16, 3)), on=0.4, dead=0.2)
    x = f.data(256, 10)
    small, report = f.compress_exact(
        model, x, layer_threshold="optimal", objective="latency"
    )
    assert report.attrs["objective"] == "latency"
    assert report.attrs["latency_model"] == {
        "per_layer_ms": 0.0,
        "per_mac_ms": 1e-9,
        "batch": 256,
    }
    # Layers free: the latency objective is the MAC objective.
    _, by_macs = linprune.apply(model, x, objective="macs", verbose=0)
    assert report.attrs["macs_after"] == by_macs.attrs["macs_after"]
