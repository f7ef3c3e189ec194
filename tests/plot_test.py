"""The paper's figures and the per-site breakdown, drawn from tables."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from keras_linprune import plot  # noqa: E402


def report():
    return pd.DataFrame(
        {
            "site": ["a", "b", "rejected"],
            "units_before": [10, 8, 0],
            "units_after": [4, 8, 0],
            "dead": [2, 0, 0],
            "constant": [1, 0, 0],
            "candidates": [3, 2, 0],
            "linear": [3, 0, 0],
        }
    )


def test_site_parts_add_up_to_the_units():
    parts = plot.site_parts(report())
    assert parts.site.tolist() == ["a", "b"]  # rejections have no units
    assert parts.removed.tolist() == [3, 0] and parts.folded.tolist() == [3, 0]
    assert parts.not_folded.tolist() == [0, 2] and parts.kept.tolist() == [4, 6]
    total = parts[["removed", "folded", "not_folded", "kept"]].sum(axis=1)
    assert total.tolist() == [10, 8]


def test_every_figure_draws_on_the_given_axes():
    import matplotlib.pyplot as plt

    table = pd.DataFrame(
        {
            "threshold": [1.0, 0.9],
            "layer_params": [100, 40],
            "shortcut_params": [0, 20],
            "total_params": [100, 60],
            "accuracy": [0.9, 0.8],
        }
    )
    table.attrs["original"] = {"total_params": 100, "accuracy": 0.9}
    figure, ax = plt.subplots()
    try:
        assert plot.weights_vs_threshold(table, ax) is ax
        assert plot.metric_vs_threshold(table, "accuracy", ax) is ax
        assert plot.metric_vs_weights(table, "accuracy", ax) is ax
        assert len(ax.lines) >= 3
    finally:
        plt.close(figure)


def test_the_site_breakdown_draws_a_real_report():
    import matplotlib.pyplot as plt

    import keras_linprune as linprune
    from tests import factories as f

    model = f.shape_biases(f.mlp())
    _, real = linprune.apply(model, f.data(), verbose=0)
    figure, ax = plt.subplots()
    try:
        assert plot.site_breakdown(real, ax) is ax
        assert len(ax.patches) == 4 * len(plot.site_parts(real))  # a bar per part
    finally:
        plt.close(figure)
