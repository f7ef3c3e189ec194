"""The objectives' costs: layer counts from a layout, and a latency model
that trades layers against multiply-accumulates."""

import numpy as np

from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
from keras_linprune.plan import costs
from keras_linprune.plan import planner as plan_lib


def wide_into_narrow():
    """d0: 20 -> 64 units (30 always active) -> d1: 64 -> 10. Folding the 30
    saves 30 * (20 + 10) multiply-accumulates and costs a 20 x 10 shortcut
    (200) plus one Concatenate layer (the consumer reads h and x)."""
    spec = GraphSpec(
        {
            "d0": LinearSpec("d0", "x", 20, 64, True),
            "d1": LinearSpec("d1", "d0", 64, 10, True),
        },
        (SiteSpec("d0", "d0", ("d1",), 64),),
        (),
        total_params=21 * 64 + 65 * 10,
        total_macs=20 * 64 + 64 * 10,
    )
    rates = {"d0": np.r_[np.ones(30), np.full(34, 0.5)]}
    return spec, rates


def test_layer_count_of_a_layout():
    spec, rates = wide_into_narrow()
    unfolded = plan_lib.make_plan(spec, rates, threshold=1.1)
    folded = plan_lib.make_plan(spec, rates, layer_threshold=0)
    count = costs.layer_count
    assert count(spec, unfolded.decisions, unfolded.layout) == 2
    assert folded.layout["d1"].sources == ("d0", "x")
    assert count(spec, folded.decisions, folded.layout) == 3  # + the Concatenate
    assert folded.macs == unfolded.macs - 30 * (20 + 10) + 20 * 10


def test_the_latency_objective_weighs_layers_against_compute():
    spec, rates = wide_into_narrow()
    by_macs = plan_lib.make_plan(spec, rates, objective="macs")
    assert by_macs.decisions["d0"].folded
    # 700 multiply-accumulates saved per row are worth less than a layer...
    slow_layers = costs.LatencyModel(per_layer_ms=0.05, per_mac_ms=1e-9, batch=256)
    by_latency = plan_lib.make_plan(
        spec, rates, objective="latency", latency=slow_layers
    )
    decision = by_latency.decisions["d0"]
    assert not decision.folded and "estimated latency" in decision.reason
    assert by_latency.options["latency_model"]["per_layer_ms"] == 0.05
    # ... and worth it when layers cost nothing.
    free_layers = costs.LatencyModel(per_layer_ms=0.0, per_mac_ms=1e-6, batch=256)
    assert (
        plan_lib.make_plan(spec, rates, objective="latency", latency=free_layers)
        .decisions["d0"]
        .folded
    )


def test_estimate_is_per_layer_plus_per_multiply_accumulate():
    model = costs.LatencyModel(per_layer_ms=0.1, per_mac_ms=2e-9, batch=100)
    assert model.estimate_ms(layers=3, macs=1000) == 0.1 * 3 + 2e-9 * 1000 * 100
