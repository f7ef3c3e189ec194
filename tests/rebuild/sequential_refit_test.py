"""Sequential refit: never worse than the plain fold on the calibration
outputs, exact at threshold 1.0, and the default below 1.0 with data."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.analysis import analyse
from keras_linprune.options import Options
from keras_linprune.rebuild import rebuild
from keras_linprune.rebuild.sequential_refit import fit_sequential
from tests import factories as f


def trained_mlp():
    keras.utils.set_random_seed(0)
    model = f.mlp((6, 48, 48, 32, 2))
    x = f.data(512, 6, seed=5)
    y = np.stack([np.sin(x[:, 0]) + x[:, 1] * x[:, 2], np.abs(x[:, 3])], 1)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=8, verbose=0)
    return model, x


def trained_cnn():
    model = f.cnn(
        keras.layers.Conv2D(12, 3, padding="same", name="c0"),
        keras.layers.Conv2D(8, 1, name="c1"),
    )
    x = f.images(64)
    model.compile("adam", "mse")
    model.fit(x, np.tanh(model.predict(x, verbose=0)) * 2, epochs=3, verbose=0)
    return model, x


def plan_of(analysis, stats, threshold):
    """The plan at `threshold`, every site with linear neurons folding."""
    opts = Options(threshold=threshold, layer_threshold=0)
    plan, _ = opts.policy().plan(analysis.spec, stats.piece_rates, **opts.plan_options)
    return plan


def output_error(model, small, x):
    diff = small.predict(x, verbose=0) - model.predict(x, verbose=0)
    return float(np.mean(diff.astype(np.float64) ** 2))


@pytest.mark.parametrize(
    "build,threshold",
    [(trained_mlp, 0.9), (trained_mlp, 0.6), (trained_cnn, 0.5), (trained_cnn, 0.45)],
    ids=["mlp-0.9", "mlp-0.6", "cnn-0.5", "cnn-0.45"],
)
def test_never_worse_than_the_plain_fold_on_the_calibration_outputs(build, threshold):
    model, x = build()
    analysis = analyse(model)
    stats = linprune.measure(model, x, verbose=0)
    plan = plan_of(analysis, stats, threshold)
    result = fit_sequential(analysis, plan, x, batch_size=128)
    plain = output_error(model, rebuild(analysis, plan), x)
    fitted = output_error(model, rebuild(analysis, plan, result.fitted), x)
    assert fitted <= plain * (1 + 1e-6)
    n = len(result.choices)
    assert (
        n >= 1
        and result.passes == 2 + 2 * n
        and set(result.choices.values())
        <= {
            "refit",
            "plain",
        }
    )
    for site, (before, after) in result.errors.items():
        assert (result.choices[site] == "refit") == (after < before)


def test_well_below_one_it_fits_better_than_the_plain_fold():
    model, x = trained_mlp()
    analysis = analyse(model)
    stats = linprune.measure(model, x, verbose=0)
    plan = plan_of(analysis, stats, 0.5)
    result = fit_sequential(analysis, plan, x, batch_size=128)
    assert "refit" in result.choices.values()
    plain = output_error(model, rebuild(analysis, plan), x)
    assert output_error(model, rebuild(analysis, plan, result.fitted), x) < plain


def test_exact_at_threshold_one_through_predict_and_eagerly():
    model = f.shape_biases(f.mlp())
    x = f.data()
    small, report = linprune.apply(model, x, refit="sequential", ridge=0.0)
    assert report.attrs["refit"] == "sequential"
    np.testing.assert_allclose(
        small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(small(x)),
        keras.ops.convert_to_numpy(model(x)),
        atol=1e-5,
    )


def test_auto_refit_follows_the_data():
    model, x = trained_mlp()
    stats = linprune.measure(model, x, verbose=0)
    rich = linprune.measure(model, x, moments=True, verbose=0)
    cases = [
        ((x,), dict(threshold=0.8), "sequential"),
        ((x,), dict(target_size=0.5), "sequential"),
        ((x,), dict(), "plain"),  # threshold 1.0: exact anyway
        ((stats,), dict(threshold=0.8), "plain"),  # nothing to fit from
        ((rich,), dict(threshold=0.8), "per_site"),
        ((x,), dict(threshold=0.8, refit=False), "plain"),
    ]
    for data, kwargs, mode in cases:
        _, report = linprune.apply(model, *data, verbose=0, **kwargs)
        assert report.attrs["refit"] == mode, (kwargs, mode)
    _, report = linprune.apply(model, x, threshold=0.8, verbose=0)
    assert set(report.attrs["refit_choices"]) <= set(report.site)


def test_sequential_refit_needs_the_data():
    model, x = trained_mlp()
    stats = linprune.measure(model, x, moments=True, verbose=0)
    with pytest.raises(ValueError, match="refit='sequential'"):
        linprune.apply(model, stats, threshold=0.8, refit="sequential")
    with pytest.raises(ValueError, match="Expected `refit` to be"):
        linprune.apply(model, x, threshold=0.8, refit="yes")
