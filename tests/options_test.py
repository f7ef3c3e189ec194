"""`Options`: defaults, the policy and planner options it builds."""

import keras
import numpy as np
import pytest

from keras_linprune.options import Options
from keras_linprune.plan import policies


def test_defaults_are_exact_folding():
    opts = Options()
    assert opts.policy() == policies.FixedThreshold(1.0)
    assert opts.plan_options == dict(
        layer_threshold="optimal",
        remove_dead=True,
        remove_inactive=False,
        shortcut="auto",
        objective="params",
        latency=None,
    )
    assert (opts.verbose, opts.certify, opts.has_target, opts.guarded) == (
        1,
        False,
        False,
        False,
    )


@pytest.mark.parametrize(
    "kwargs,policy",
    [
        (dict(threshold=0.8), policies.FixedThreshold(0.8)),
        (dict(target_size=0.3), policies.SizeTarget(fraction=0.3, mixes=(0.0,))),
        (dict(target_params=500), policies.SizeTarget(params=500, mixes=(0.0,))),
        (
            dict(target_params=500, remove_inactive=True),
            policies.SizeTarget(params=500, mixes=(1.0,)),
        ),
        (dict(target_size=0.3, target_step=0.05), policies.StepSearch(0.3, 0.05)),
    ],
)
def test_policy_follows_the_options(kwargs, policy):
    assert Options(**kwargs).policy() == policy


def test_a_size_target_compares_mixes_only_where_it_can_score_them():
    """`remove_inactive="auto"` compares every mix of folding and inactive
    removal on calibration data or `eval_data`, not from stats alone, and
    not when the user fixed the choice."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.zeros((60, 3), "float32")
    cases = [
        (dict(target_size=0.5), x, policies.MIXES),
        (dict(target_size=0.5, remove_inactive=False), x, (0.0,)),
        (dict(target_size=0.5, remove_inactive=True), x, (1.0,)),
        (dict(target_size=0.5, remove_dead=False), x, (0.0,)),
        (dict(target_size=0.5, target_step=0.1), x, (0.0,)),
        (dict(threshold=0.9), x, (0.0,)),
    ]
    for kwargs, data, mixes in cases:
        opts = Options(**kwargs)
        opts.check_against(model, data)
        assert opts.target_mixes == mixes, kwargs
        assert opts.scores_target == (len(mixes) > 1)
    fixed = Options(threshold=0.9)
    assert fixed.plan_options["remove_inactive"] is False
    assert Options(threshold=0.9, remove_inactive=True).plan_options["remove_inactive"]


def test_a_guarded_policy_is_the_guard_the_caller_built():
    opts = Options(max_metric_drop=0.01, eval_data=([0], [0]))
    guard = object()
    assert opts.policy(guard) is guard
    with pytest.raises(ValueError, match="metric guard"):
        opts.policy()


def test_an_input_box_implies_certify_and_values_are_normalised():
    opts = Options(input_box=(0.0, 1.0), batch_size=16, layer_threshold=2)
    assert opts.certify and opts.batch_size == 16 and opts.layer_threshold == 2
    with pytest.raises(ValueError, match="`certify` alone"):
        Options(input_box=(0.0, 1.0), threshold=0.9)
