"""Size targets compare the plans that fit by fidelity (issue 19): every
mix of folding and inactive-neuron removal, scored on held-out data."""

import keras
import numpy as np
import pytest
from sklearn import datasets

import keras_linprune as linprune
from keras_linprune.plan import policies


@pytest.fixture(scope="module")
def classifier():
    """An MLP trained on scikit-learn's digits (8x8), its training rows
    (calibration), and a validation split neither saw."""
    keras.utils.set_random_seed(0)
    x, y = datasets.load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    inputs = keras.Input((64,))
    h = keras.layers.Dense(128, activation="relu")(inputs)
    h = keras.layers.Dense(64, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:1200], y[:1200], epochs=10, batch_size=32, verbose=0)
    return model, x[:1200], (x[1200:], y[1200:])


def accuracy(model, data):
    x, y = data
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def test_the_pick_is_at_least_as_accurate_as_the_highest_threshold(classifier):
    model, x, held = classifier
    budget = int(0.3 * model.count_params())

    picked, report = linprune.apply(
        model, x, target_params=budget, eval_data=held, verbose=0
    )
    highest, _ = linprune.apply(
        model, x, target_params=budget, remove_inactive=False, verbose=0
    )

    assert picked.count_params() <= budget and highest.count_params() <= budget
    assert accuracy(picked, held) >= accuracy(highest, held)
    candidates = report.attrs["target_candidates"]
    mixes = [c["mix"] for c in candidates]
    assert 0.0 in mixes and len(mixes) > 1 and set(mixes) <= set(policies.MIXES)
    fold_only = next(c for c in candidates if c["mix"] == 0.0)
    assert fold_only["params"] == highest.count_params()
    best = min(candidates, key=lambda c: (c["score"], c["params"]))
    assert report.attrs["target_mix"] == best["mix"]
    # The score is the negated accuracy on `eval_data`, computed here apart.
    assert -best["score"] == pytest.approx(accuracy(picked, held), abs=1e-6)
    assert picked.count_params() == best["params"]


def test_without_eval_data_the_plans_are_scored_on_held_out_rows(classifier):
    model, x, held = classifier
    picked, report = linprune.apply(model, x, target_size=0.3, verbose=0)
    candidates = report.attrs["target_candidates"]
    assert 1 < len(candidates) <= len(policies.MIXES)
    scores = [c["score"] for c in candidates]
    assert all(s >= 0 for s in scores)  # output errors
    best = min(candidates, key=lambda c: (c["score"], c["params"]))
    assert picked.count_params() == best["params"] <= 0.3 * model.count_params()
    # The calibration rows predict the held-out ones: the pick is not
    # worse there than folding alone by more than a point.
    alone, _ = linprune.apply(
        model, x, target_size=0.3, remove_inactive=False, verbose=0
    )
    assert accuracy(picked, held) >= accuracy(alone, held) - 0.01


def test_from_stats_alone_the_target_keeps_the_highest_threshold(classifier):
    model, x, _ = classifier
    stats = linprune.measure(model, x, verbose=0)
    small, report = linprune.apply(model, stats, target_size=0.5, verbose=0)
    assert "target_candidates" not in report.attrs
    fold_only, _ = linprune.apply(
        model, stats, target_size=0.5, remove_inactive=False, verbose=0
    )
    assert small.count_params() == fold_only.count_params()
