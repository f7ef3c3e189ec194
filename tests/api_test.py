"""The entry points' own steps: statistics given or measured, and the
compress step's self-check."""

import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune import api
from keras_linprune.analysis import analyse
from keras_linprune.options import Options
from tests import factories as f


def test_given_statistics_are_used_as_they_are():
    model = f.shape_biases(f.mlp())
    x = f.data()
    stats = linprune.measure(model, x, verbose=0)
    got, notes = api.statistics(analyse(model), stats, Options())
    assert got is stats and notes == {}


def test_statistics_of_another_model_are_refused():
    model, other = f.mlp(seed=0), f.mlp(seed=1)
    stats = linprune.measure(other, f.data(), verbose=0)
    with pytest.raises(ValueError, match="measured on a different model"):
        api.statistics(analyse(model), stats, Options())


def test_compress_from_statistics_reports_the_sizes_it_built():
    model = f.shape_biases(f.mlp())
    x = f.data()
    analysis = analyse(model)
    stats, _ = api.statistics(analysis, x, Options(verbose=0))
    small, report = api.compress(analysis, stats, Options(threshold=0.9))
    assert report.attrs["params_after"] == small.count_params()
    assert report.attrs["params_before"] == model.count_params()
    assert np.isfinite(small.predict(x, verbose=0)).all()
