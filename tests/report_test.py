import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.report import COLUMNS
from tests import factories as f


def test_report_rows_columns_and_totals():
    model = f.shape_biases(f.mlp(), on=0.5, dead=0.2)
    x = f.data()
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    assert tuple(report.columns) == COLUMNS
    assert report["site"].tolist() == ["d0", "d1", "d2"]
    stats = linprune.measure(model, x, verbose=0)
    for _, row in report.iterrows():
        r = stats.rates[row.site]
        assert row.units_after == row.units_before - row.linear - row.dead
        assert row.linear == np.count_nonzero(r >= 1.0)
        assert row.dead == np.count_nonzero(r == 0)
        assert row.rate_min == r.min() and row.rate_max == r.max()
    totals = report.linprune.totals
    assert totals["params_before"] == model.count_params()
    assert totals["params_after"] == small.count_params()
    assert totals["ratio"] == small.count_params() / model.count_params()
    # Per-layer columns add up to the total, with the output layer's own
    # rows (from d2's kept units) and bias: shortcut_params counts only terms
    # from sources a layer did not read originally.
    kept_last = int(report.units_after.iloc[-1])
    out_own = (kept_last + 1) * 3
    assert (
        report.params_after.sum() + report.shortcut_params.sum() + out_own
        == small.count_params()
    )


def test_summary_text():
    model = f.shape_biases(f.mlp())
    _, report = linprune.apply(model, f.data(), threshold=0.9, verbose=0)
    text = report.linprune.summary()
    assert text == linprune.summary(report)
    assert "threshold=0.9" in text
    assert f"{model.count_params():,}" in text
    for site in report.site:
        assert site in text


def test_every_layer_says_what_happened_to_it():
    model = f.shape_biases(f.mlp(style="layer", dropout=True), on=0.5, dead=0.2)
    small, report = linprune.apply(model, f.data(), layer_threshold=0, verbose=0)
    actions = dict(report.linprune.layers()[["layer", "action"]].values)
    assert actions["d0"] == "narrowed" and actions["relu0"] == "copied"
    assert actions["d1"] == actions["relu1"] == "removed"  # fully folded
    assert actions["out"] == "rewritten"
    added = {name for name, action in actions.items() if action == "added"}
    assert added == {layer.name for layer in small.layers} - {
        layer.name for layer in model.layers
    }
    assert set(actions) >= {layer.name for layer in model.layers[1:]}


def test_absorbed_and_bypassed_layers_are_named():
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((6,))
    h = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(8, name="p")(x))
    h = keras.layers.ReLU(name="r")(h)
    cat = keras.layers.Concatenate(name="cat")([h, x])
    model = keras.Model(x, keras.layers.Dense(2, name="c")(cat))
    _, report = linprune.apply(f.pin(model), f.data(), verbose=0)
    actions = dict(report.linprune.layers()[["layer", "action"]].values)
    assert actions["bn"] == "absorbed" and actions["cat"] == "bypassed"


def test_summary_wraps_notes_below_the_table_and_explain_tells_one_site():
    model = f.shape_biases(f.mlp())
    _, report = linprune.apply(model, f.data(), threshold=0.9, verbose=0)
    report.loc[0, "reason"] = "a long reason " * 20  # wraps, never overflows
    text = report.linprune.summary()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "Notes:" in text and f"  {report.site[0]}: a long reason" in text
    narrow = report.linprune.summary(width=60)
    assert max(len(line) for line in narrow.splitlines()[-4:]) <= 60
    site = report.site.iloc[1]
    story = report.linprune.explain(site)
    row = report.iloc[1]
    assert story.splitlines()[0].startswith(f"{site}: {row.layer} -> ")
    assert f"units {row.units_before} -> {row.units_after}" in story
    with pytest.raises(KeyError, match="Expected one of the report's sites"):
        report.linprune.explain("nope")
