"""A site's decisions from its rates (the planner's input)."""

import numpy as np
import pytest

from keras_linprune.core import pieces
from keras_linprune.core.spec import GraphSpec, LinearSpec, SiteSpec
from keras_linprune.plan import decisions

SITE = SiteSpec("d0", "d0", ("d1",), 4)


def test_relu_rates_may_be_given_as_the_active_rate():
    rates = decisions.piece_rates(SITE, np.array([0.0, 0.5, 1.0, 1.0]))
    np.testing.assert_array_equal(rates, [[1, 0.5, 0, 0], [0, 0.5, 1, 1]])
    relu6 = SiteSpec(
        "r",
        "r",
        ("d1",),
        2,
        pieces.Activation("relu6", pieces.relu_pieces(max_value=6.0), 1),
    )
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        decisions.piece_rates(relu6, np.ones(2))


def test_dead_neurons_go_and_linear_ones_fold_at_the_threshold():
    rates = decisions.piece_rates(SITE, np.array([0.0, 0.5, 0.97, 1.0]))
    facts = decisions.site_facts(SITE, rates, remove_dead=True)
    base = decisions.base_decision(SITE, facts, threshold=0.95)
    assert base.constant.tolist() == [0] and base.candidates == 2
    assert base.keep.tolist() == [1, 2, 3] and not base.folded
    folded = decisions.with_linear(facts, base, 0.95)
    assert folded.linear.tolist() == [2, 3] and folded.keep.tolist() == [1]
    assert folded.slope.tolist() == [1.0, 1.0] and folded.folded
    assert folded.size_signature == (1, 2, True, False, False)


def test_a_site_of_dead_neurons_keeps_one_for_its_consumers():
    rates = decisions.piece_rates(SITE, np.zeros(4))
    facts = decisions.site_facts(SITE, rates, remove_dead=True)
    assert facts.constant.tolist() == [1, 2, 3] and facts.keep.tolist() == [0]
    assert decisions.site_facts(SITE, rates, remove_dead=False).constant.size == 0


def test_removal_plan_counts_what_it_drops():
    spec = GraphSpec(
        {
            "d0": LinearSpec("d0", "x", 3, 4, True),
            "d1": LinearSpec("d1", "d0", 4, 2, True),
        },
        (SITE,),
        (),
        total_params=16 + 10,
    )
    plan = decisions.removal_plan(spec, {"d0": [0, 1]})
    # d0 keeps 2 of 4 neurons: 3*2 + 2; d1 reads 2 of them: 2*2 + 2.
    assert plan.params == 8 + 6 and plan.params_before == 26
    assert plan.decisions["d0"].reason == "pruned by activation"


def test_inactive_neurons_are_removed_at_the_threshold_only_when_asked():
    rates = decisions.piece_rates(SITE, np.array([0.02, 0.5, 0.97, 0.08]))
    plain = decisions.site_facts(SITE, rates, remove_dead=True)
    assert decisions.base_decision(SITE, plain, 0.9).constant.size == 0
    facts = decisions.site_facts(SITE, rates, remove_dead=True, remove_inactive=True)
    base = decisions.base_decision(SITE, facts, 0.9)
    # Neurons 0 and 3 are off on 98 % and 92 % of the rows: removed (as 0).
    assert base.constant.tolist() == [0, 3] and base.value.tolist() == [0.0, 0.0]
    assert base.keep.tolist() == [1, 2] and base.candidates == 1
    folded = decisions.with_linear(facts, base, 0.9)
    assert folded.linear.tolist() == [2] and folded.keep.tolist() == [1]
    # At 0.95 only neuron 0 is inactive enough; at 1.0 nothing is.
    assert decisions.base_decision(SITE, facts, 0.95).constant.tolist() == [0]
    assert decisions.base_decision(SITE, facts, 1.0).constant.size == 0
    np.testing.assert_allclose(facts.removable_rate, [0.98, 0.5, 0.97, 0.92])
