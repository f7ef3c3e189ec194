import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_linprune as linprune  # noqa: E402
from tests import factories as f  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    model = f.shape_biases(
        f.mlp((6, 32, 32, 3), output_activation="softmax"), on=0.3, dead=0.1
    )
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = f.data(300)
    y = np.argmax(model.predict(x, verbose=0), axis=1)
    return model, x, y


def test_sweep_matches_apply_at_each_threshold(trained):
    model, x, y = trained
    thresholds = [1.0, 0.9, 0.5]
    table = linprune.sweep(model, x, eval_data=(x, y), thresholds=thresholds, verbose=0)
    assert table.threshold.tolist() == thresholds
    assert {"loss", "accuracy", "seconds"} <= set(table.columns)
    for _, row in table.iterrows():
        small, report = linprune.apply(model, x, threshold=row.threshold, verbose=0)
        assert row.total_params == small.count_params()
        assert row.shortcut_params == report.shortcut_params.sum()
        assert row.layer_params + row.shortcut_params == row.total_params
        acc = small.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
        assert row.accuracy == pytest.approx(acc)
    assert table.loc[0, "accuracy"] == table.attrs["original"]["accuracy"]


def test_sweep_with_stats_and_given_metrics(trained):
    model, x, y = trained
    stats = linprune.measure(model, x, verbose=0)
    uncompiled = keras.Model(model.inputs, model.outputs)
    table = linprune.sweep(
        uncompiled,
        stats,
        eval_data=(x, y),
        metrics=["sparse_categorical_accuracy"],
        thresholds=[1.0, 0.8],
    )
    assert "sparse_categorical_accuracy" in table.columns
    named = linprune.sweep(
        uncompiled, stats, eval_data=(x, y), metrics="accuracy", thresholds=[1.0, 0.8]
    )
    compiled = linprune.sweep(model, stats, eval_data=(x, y), thresholds=[1.0, 0.8])
    np.testing.assert_allclose(named.accuracy, compiled.accuracy)
    sizes = linprune.sweep(uncompiled, stats, thresholds=np.arange(0.5, 1.01, 0.25))
    assert len(sizes) == 3 and "accuracy" not in sizes.columns


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(thresholds=[]), "at least one threshold"),
        (dict(thresholds=[1.2]), "threshold"),
        (dict(thresholds="abc"), "thresholds"),
        (dict(metrics=["accuracy"]), "eval_data"),
        (dict(eval_data="use y", metrics=["no_such_metric"]), "metric names"),
    ],
)
def test_bad_sweep_arguments(trained, kwargs, match):
    model, x, y = trained
    if kwargs.get("eval_data") == "use y":
        kwargs["eval_data"] = (x, y)
    with pytest.raises((ValueError, TypeError), match=match):
        linprune.sweep(model, x, verbose=0, **kwargs)


def test_uncompiled_model_needs_metrics(trained):
    model, x, y = trained
    bare = keras.Model(model.inputs, model.outputs)
    with pytest.raises(ValueError, match="compiled model or `metrics`"):
        linprune.sweep(bare, x, eval_data=(x, y))


def test_plots(trained):
    model, x, y = trained
    table = linprune.sweep(model, x, eval_data=(x, y), thresholds=[1.0, 0.6], verbose=0)
    ax = linprune.plot.weights_vs_threshold(table)
    assert [layer.get_label() for layer in ax.get_lines()][:3] == [
        "layer weights",
        "shortcut weights",
        "total",
    ]
    np.testing.assert_array_equal(ax.get_lines()[2].get_ydata(), table.total_params)
    ax = linprune.plot.metric_vs_threshold(table, "accuracy")
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), table.accuracy)
    ax = linprune.plot.metric_vs_weights(table, "accuracy")
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), table.total_params)
    with pytest.raises(ValueError, match="metric column"):
        linprune.plot.metric_vs_threshold(table, "f1")


def test_site_breakdown_shows_where_folding_happens():
    """Each site's bar is split into removed / folded / linear-not-folded /
    kept neurons, the parts adding up to the site's width."""
    model = f.shape_biases(f.mlp((6, 16, 12, 3)), on=0.4, dead=0.3)
    _, report = linprune.apply(model, f.data(), verbose=0)
    parts = linprune.plot.site_parts(report).set_index("site")
    for row in report.itertuples():
        got = parts.loc[row.site]
        assert got.removed == row.dead + row.constant
        assert got.folded == row.linear
        assert got.sum() == row.units_before
    ax = linprune.plot.site_breakdown(report)
    bars = ax.patches
    assert len(bars) == 4 * len(report)
    by_site = {}
    for bar in bars:
        by_site.setdefault(round(bar.get_y(), 3), []).append(bar.get_width())
    for widths in by_site.values():
        assert sum(widths) == pytest.approx(1.0)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"{s} ({u})" for s, u in zip(report.site, report.units_before)]
    assert ax.get_yticks()[0] == len(report) - 1  # the first site on top


def test_sweep_shows_progress_over_the_thresholds(capsys):
    model = f.shape_biases(f.mlp((6, 16, 3)))
    linprune.sweep(model, f.data(), thresholds=[1.0, 0.9, 0.8], verbose=1)
    assert "3/3" in capsys.readouterr().out
    linprune.sweep(model, f.data(), thresholds=[1.0, 0.9], verbose=0)
    assert capsys.readouterr().out == ""
