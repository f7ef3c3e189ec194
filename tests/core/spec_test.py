"""The Keras-free graph description: term keys and exact counts."""

from keras_linprune.core.spec import (
    GraphSpec,
    LinearSpec,
    SiteSpec,
    source_of,
    term_key,
)


def test_term_keys_round_trip_to_their_source():
    key = term_key("conv_1", "conv3x3")
    assert key not in ("conv_1", "conv3x3") and source_of(key) == "conv_1"
    assert term_key("conv_1", "k5") != key  # one key per geometry
    assert source_of("x") == "x"  # a plain source key is its own source


def test_linear_counts():
    dense = LinearSpec("d", "x", 4, 3, True)
    assert dense.inputs == (("x", 4),) and dense.params == 4 * 3 + 3
    conv = LinearSpec("c", "x", 2, 5, False, taps=9, positions=16)
    assert conv.params == 9 * 2 * 5 and conv.macs == 16 * 9 * 2 * 5


def test_fixed_params_exclude_what_the_planner_counts():
    spec = GraphSpec(
        {
            "d1": LinearSpec("d1", "x", 2, 8, True),
            "d2": LinearSpec("d2", "d1", 8, 1, True),
        },
        (SiteSpec("d1", "d1", ("d2",), 8),),
        (),
        total_params=24 + 9 + 7,  # + 7 parameters of layers never changed
    )
    assert spec.fixed_params == 7
    assert spec.source_widths == {"x": 2, "d1": 8}
    assert spec.fixed_macs is None  # total_macs unknown
