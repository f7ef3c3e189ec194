"""The paper's three figures from a `sweep` table (needs matplotlib).

`pip install "keras_linprune[plot]"` installs matplotlib. Each function
draws on `ax` (a new figure's axes by default) and returns the axes.

Example:

```python
table = linprune.sweep(model, x_train, eval_data=(x_test, y_test))
linprune.plot.weights_vs_threshold(table)
linprune.plot.metric_vs_threshold(table, "accuracy")
linprune.plot.metric_vs_weights(table, "accuracy")
```
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def _axes(ax):
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            'keras_linprune.plot needs matplotlib: pip install "keras_linprune[plot]"'
        ) from None
    return plt.subplots()[1]


def _column(table, metric):
    if metric not in table.columns:
        raise ValueError(
            f"Expected a metric column of the sweep table "
            f"({', '.join(map(str, table.columns))}). Received: {metric!r}"
        )
    return table[metric]


def weights_vs_threshold(table: pd.DataFrame, ax: Any = None) -> Any:
    """Layer, shortcut and total parameters against the threshold."""
    ax = _axes(ax)
    for column, label in (
        ("layer_params", "layer weights"),
        ("shortcut_params", "shortcut weights"),
        ("total_params", "total"),
    ):
        ax.plot(table["threshold"], table[column], marker="o", label=label)
    original = table.attrs.get("original", {}).get("total_params")
    if original:
        ax.axhline(original, color="grey", linestyle="--", label="original")
    ax.set_xlabel("threshold")
    ax.set_ylabel("parameters")
    ax.legend()
    return ax


def metric_vs_threshold(table: pd.DataFrame, metric: str, ax: Any = None) -> Any:
    """A metric of the compressed model against the threshold."""
    ax = _axes(ax)
    ax.plot(table["threshold"], _column(table, metric), marker="o", label="compressed")
    original = table.attrs.get("original", {}).get(metric)
    if original is not None:
        ax.axhline(original, color="grey", linestyle="--", label="original")
    ax.set_xlabel("threshold")
    ax.set_ylabel(metric)
    ax.legend()
    return ax


def metric_vs_weights(table: pd.DataFrame, metric: str, ax: Any = None) -> Any:
    """A metric against the total parameter count."""
    ax = _axes(ax)
    ax.plot(table["total_params"], _column(table, metric), marker="o")
    for t, x, y in zip(table["threshold"], table["total_params"], table[metric]):
        ax.annotate(f"{t:g}", (x, y), fontsize=7)
    ax.set_xlabel("total parameters")
    ax.set_ylabel(metric)
    return ax
