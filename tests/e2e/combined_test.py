"""Importance pruning by activation rate and linearity folding in one
call, to one budget (`remove_inactive=True`)."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f


def small_cnn():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).normal(size=(256, 12, 12, 1)).astype("float32")
    y = (x[:, :6].mean(axis=(1, 2, 3)) > 0).astype("int32") + (
        x[:, 6:, 6:].sum(axis=(1, 2, 3)) > 1
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    return model, x


def test_a_budget_below_the_folding_floor_is_met_with_inactive_neurons_removed():
    model, x = small_cnn()
    budget = model.count_params() // 10  # folding alone stops at 15.7 %
    with pytest.raises(ValueError, match="reachable size target"):
        linprune.apply(model, x, target_params=budget, remove_inactive=False)
    for remove in (True, "auto"):  # the default compares mixes that reach it
        small, report = linprune.apply(
            model, x, target_params=budget, remove_inactive=remove, verbose=0
        )
        assert small.count_params() == report.attrs["params_after"] <= budget
        assert report.dead.sum() > 0
        out = small.predict(x, verbose=0)
        assert out.shape == (256, 3) and np.isfinite(out).all()
    assert 0.0 not in {c["mix"] for c in report.attrs["target_candidates"]}


def test_at_threshold_one_nothing_more_is_removed():
    model = f.shape_biases(f.mlp())
    x = f.data()
    exact, r1 = linprune.apply(model, x, verbose=0)
    combined, r2 = linprune.apply(model, x, remove_inactive=True, verbose=0)
    assert r1.attrs["params_after"] == r2.attrs["params_after"]
    np.testing.assert_allclose(
        combined.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


def test_the_size_floor_counts_inactive_neurons_of_blocked_sites():
    """Sites whose linear folds are blocked (a spatial consumer) still lose
    inactive channels: the floor that lets size targets skip thresholds
    must count them (it once skipped the plan that fits)."""
    from keras_linprune.analysis import analyse
    from keras_linprune.plan import planner, policies

    model, x = small_cnn()
    spec = analyse(model).spec
    assert any(s.linear_block for s in spec.sites)
    rates = linprune.measure(model, x, verbose=0).piece_rates
    plans = planner.Planner(spec, rates, remove_inactive=True)
    for t in policies.candidate_thresholds(spec, rates, True):
        assert plans.params_floor(t) <= plans.plan(t).params


def spread_mlp():
    """A 6-24-3 MLP whose hidden biases run from far below to far above the
    pre-activations' spread (some neurons rarely on, some almost always,
    some in between), and 300 rows."""
    keras.utils.set_random_seed(0)
    model = f.mlp((6, 24, 3))
    first = f.linear_layers(model)[0]
    kernel, _ = first.get_weights()
    spread = np.linalg.norm(kernel, axis=0)
    first.set_weights([kernel, np.linspace(-2.5, 2.5, 24) * spread])
    x = f.data(300, 6, seed=2)
    return model, x


def piecewise_reference(model, x, decision):
    """The original's outputs with the removed neurons at 0 and the folded
    ones the identity, computed here from the original weights."""
    first, last = f.linear_layers(model)
    k1, b1 = first.get_weights()
    k2, b2 = last.get_weights()
    z = x.astype(np.float64) @ k1 + b1
    h = np.maximum(z, 0.0)
    h[:, decision.constant] = 0.0
    h[:, decision.linear] = z[:, decision.linear]
    return h @ k2 + b2


def test_below_one_each_neuron_follows_its_piece_through_predict_and_eagerly():
    """At 0.9 a neuron off on >= 90 % of the rows outputs 0 and one on on
    >= 90 % is the identity: the compressed model equals the original
    with those substitutions, through predict() and eagerly."""
    from keras_linprune.analysis import analyse
    from keras_linprune.plan import planner

    model, x = spread_mlp()
    options = dict(threshold=0.9, layer_threshold=0, refit=False, verbose=0)
    small, _ = linprune.apply(model, x, remove_inactive=True, **options)
    analysis = analyse(model)
    rates = linprune.measure(model, x, verbose=0).piece_rates
    plan = planner.make_plan(
        analysis.spec, rates, threshold=0.9, layer_threshold=0, remove_inactive=True
    )
    (decision,) = plan.decisions.values()
    assert decision.constant.size and decision.linear.size  # both kinds happen
    (site_rates,) = rates.values()
    assert (site_rates[0][decision.constant] < 1.0).any()  # not only dead ones
    expected = piecewise_reference(model, x, decision)
    np.testing.assert_allclose(small.predict(x, verbose=0), expected, atol=1e-4)
    eager = keras.ops.convert_to_numpy(small(x, training=False))
    np.testing.assert_allclose(eager, expected, atol=1e-4)


def test_an_inactive_threshold_of_its_own_rebuilds_each_neuron_in_its_piece():
    """A size target's mixes remove inactive neurons at a threshold apart
    from the folds' (here 0.6 against 0.9): the rebuilt model equals the
    original with those substitutions, through predict() and eagerly."""
    from keras_linprune.analysis import analyse
    from keras_linprune.plan import planner
    from keras_linprune.rebuild import rebuild

    model, x = spread_mlp()
    analysis = analyse(model)
    rates = linprune.measure(model, x, verbose=0).piece_rates
    planned = planner.Planner(
        analysis.spec, rates, layer_threshold=0, remove_inactive=True
    )
    plan = planned.plan(0.9, 0.6)
    (decision,) = plan.decisions.values()
    (site_rates,) = rates.values()
    off = site_rates[0]
    removed_below_fold = (off[decision.constant] >= 0.6) & (
        off[decision.constant] < 0.9
    )
    assert removed_below_fold.any()  # removed where the fold threshold would not
    assert decision.linear.size
    small = rebuild(analysis, plan)
    assert small.count_params() == plan.params
    expected = piecewise_reference(model, x, decision)
    np.testing.assert_allclose(small.predict(x, verbose=0), expected, atol=1e-4)
    eager = keras.ops.convert_to_numpy(small(x, training=False))
    np.testing.assert_allclose(eager, expected, atol=1e-4)
