"""Property-based tests over random functional graphs (hypothesis).

Every generated model (`examples.random_graphs`) must compress with the
default options and: run; reproduce the original's outputs through
`predict()` (relative 1e-4); never grow; have `attrs["params_after"] ==
count_params()`; have at most one operation more per folded site; save and
reload to the same outputs; leave the input model unchanged. CI runs a fixed
number of examples (`LINPRUNE_EXAMPLES`, default 24);
`benchmarks/random_graphs.py` runs the same checks on many more.
"""

import os

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_linprune as linprune
from keras_linprune.examples.random_graphs import random_model
from keras_linprune.graph import nest

EXAMPLES = int(os.environ.get("LINPRUNE_EXAMPLES", "24"))


def operations(model):
    """Layers and ops of `model`, nested models' included."""
    return sum(1 for _ in nest.flat_operations(model))


def check_model(model, x, tmp_dir):
    """The properties every compression must have; returns the report."""
    weights = [w.copy() for w in model.get_weights()]
    small, report = linprune.apply(model, x, verbose=0)
    want = model.predict(x, verbose=0)
    got = small.predict(x, verbose=0)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, atol=1e-4 * scale, rtol=1e-4)
    assert small.count_params() <= model.count_params()
    assert report.attrs["params_after"] == small.count_params()
    # No blow-up of the graph: per consumer of a folded site, at most a
    # Concatenate and one low-rank first half per term a fold brings it (a
    # term per folded site upstream).
    folded = report[report.folded] if len(report) else report
    reads = sum(len(c.split(", ")) for c in folded["consumers"]) if len(folded) else 0
    bound = operations(model) + reads * (1 + len(folded))
    assert operations(small) <= bound, (
        f"{operations(model)} -> {operations(small)} operations with "
        f"{len(folded)} folded sites"
    )
    path = os.path.join(tmp_dir, "small.keras")
    small.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), got)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    return report


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**31 - 1),
    layers=st.integers(1, 6),
    kind=st.sampled_from(["vector", "image"]),
)
def test_random_graphs_compress_exactly(tmp_path, seed, layers, kind):
    model, x = random_model(seed, layers, kind)
    check_model(model, x, str(tmp_path))


@pytest.mark.slow
@settings(
    max_examples=max(4, EXAMPLES // 3),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**31 - 1),
    layers=st.integers(1, 5),
    kind=st.sampled_from(["vector", "image"]),
    threshold=st.sampled_from([1.0, 0.9, 0.7]),
)
def test_refit_from_moments_equals_refit_from_data(seed, layers, kind, threshold):
    """`measure(moments=True)` holds every feature any plan reads: a refit
    from the statistics equals refit's own pass over the data."""
    model, x = random_model(seed, layers, kind)
    options = dict(threshold=threshold, layer_threshold=0, refit=True, verbose=0)
    stats = linprune.measure(model, x, moments=True, verbose=0)
    from_data, r1 = linprune.apply(model, x, **options)
    from_stats, r2 = linprune.apply(model, stats, **options)
    assert r1.attrs.get("refit_skipped") == r2.attrs.get("refit_skipped")
    assert from_stats.count_params() == from_data.count_params()
    want = from_data.predict(x, verbose=0)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(
        from_stats.predict(x, verbose=0), want, atol=1e-4 * scale, rtol=1e-4
    )
