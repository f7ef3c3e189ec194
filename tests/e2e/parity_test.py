"""Prototype semantics on Sequential Dense/ReLU MLPs (docs/method.md, section 10)."""

import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f

WIDTHS = (6, 16, 12, 3)


@pytest.fixture(scope="module")
def model_and_rates():
    model = f.shape_biases(f.mlp(WIDTHS, sequential=True), on=0.5, dead=0.1)
    x = f.data(300)
    stats = linprune.measure(model, x, verbose=0)
    return model, x, stats


def prototype_size(j0, j1):
    """Layer weights + biases + shortcut weights, both sites folded."""
    k0, k1 = 16 - j0, 12 - j1
    layers = (6 + 1) * k0 + (k0 + 1) * k1 + (k1 + 1) * 3
    shortcuts = 6 * k1 + (k0 + 6) * 3  # x -> d1; [h0, x] -> out
    return layers + shortcuts


@pytest.mark.parametrize("threshold", [1.0, 0.9])
def test_count_equals_prototype_size(model_and_rates, threshold):
    model, x, stats = model_and_rates
    j = [int(np.count_nonzero(stats.rates[s] >= threshold)) for s in stats.sites]
    assert min(j) > 0
    small, report = linprune.apply(
        model,
        stats,
        threshold=threshold,
        layer_threshold=0,
        remove_dead=False,
        shortcut="dense",
    )
    assert report["folded"].tolist()[:2] == [True, True]
    assert small.count_params() == prototype_size(*j)
    assert prototype_size(*j) == closed_form(*j, True, True)


def test_output_layer_never_folds(model_and_rates):
    model, x, stats = model_and_rates
    _, report = linprune.apply(
        model,
        stats,
        threshold=0.0,
        layer_threshold=0,
        remove_dead=False,
        shortcut="dense",
    )
    assert "out" not in report["layer"].tolist()


@pytest.mark.parametrize("threshold", [1.0, 0.8, 0.5])
def test_int_float_string_rules_pick_prototype_sites(model_and_rates, threshold):
    model, x, stats = model_and_rates
    j = {s: int(np.count_nonzero(stats.rates[s] >= threshold)) for s in stats.sites}
    width = {"d0": 16, "d1": 12}
    for rule in [0, 4, 8]:
        _, r = linprune.apply(
            model,
            stats,
            threshold=threshold,
            layer_threshold=rule,
            remove_dead=False,
            shortcut="dense",
        )
        assert dict(zip(r.site, r.folded)) == {s: j[s] > rule for s in j}
    for rule in [0.25, 0.5]:
        _, r = linprune.apply(
            model,
            stats,
            threshold=threshold,
            layer_threshold=rule,
            remove_dead=False,
            shortcut="dense",
        )
        assert dict(zip(r.site, r.folded)) == {s: j[s] / width[s] > rule for s in j}


def closed_form(j0, j1, fold0, fold1):
    """Parameters of the 6-16-12-3 MLP with the chosen sites folded."""
    k0 = 16 - j0 if fold0 else 16
    k1 = 12 - j1 if fold1 else 12
    d1_in = k0 + (6 if fold0 else 0)
    out_in = k1 + ((d1_in) if fold1 else 0)
    return (6 + 1) * k0 + (d1_in + 1) * k1 + (out_in + 1) * 3


@pytest.mark.parametrize("threshold", [1.0, 0.8, 0.5, 0.2])
def test_string_rules_on_exact_counts(model_and_rates, threshold):
    model, x, stats = model_and_rates
    j0, j1 = (int(np.count_nonzero(stats.rates[s] >= threshold)) for s in ("d0", "d1"))
    # "sequential": each site in order, if it lowers the count so far.
    fold0 = j0 > 0 and closed_form(j0, j1, True, False) < closed_form(
        j0, j1, False, False
    )
    fold1 = j1 > 0 and closed_form(j0, j1, fold0, True) < closed_form(
        j0, j1, fold0, False
    )
    small, r = linprune.apply(
        model,
        stats,
        threshold=threshold,
        layer_threshold="sequential",
        remove_dead=False,
        shortcut="dense",
    )
    assert r.folded.tolist()[:2] == [fold0, fold1]
    assert small.count_params() == closed_form(j0, j1, fold0, fold1)
    # "optimal" / "best": the smallest count over every choice of sites.
    options = [
        (a, b)
        for a in (False, True)
        for b in (False, True)
        if (j0 or not a) and (j1 or not b)
    ]
    best = min(closed_form(j0, j1, a, b) for a, b in options)
    for rule in ("optimal", "best"):
        small, r = linprune.apply(
            model,
            stats,
            threshold=threshold,
            layer_threshold=rule,
            remove_dead=False,
            shortcut="dense",
        )
        assert small.count_params() == best


def test_exact_after_prototype_compression(model_and_rates):
    model, x, stats = model_and_rates
    small, _ = linprune.apply(
        model, stats, layer_threshold=0, remove_dead=False, shortcut="dense"
    )
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
