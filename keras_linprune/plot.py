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


#: The parts of `site_breakdown`, in drawing order, with their colours.
SITE_PARTS = (
    ("removed", "dead or constant: removed", "#9e9e9e"),
    ("folded", "linear: folded", "#2e7d32"),
    ("not_folded", "linear, not folded", "#a5d6a7"),
    ("kept", "mixed: kept", "#1565c0"),
)


def site_parts(report: pd.DataFrame) -> pd.DataFrame:
    """Per fold site of a report, how many neurons are `removed` (dead or
    constant), `folded` (linear), `not_folded` (linear at the threshold but
    not folded: see `reason`) and `kept` (mixed)."""
    sites = report[report["units_before"] > 0]
    removed = sites["dead"] + sites["constant"]
    not_folded = sites["candidates"] - sites["linear"]
    return pd.DataFrame(
        {
            "site": sites["site"].to_numpy(),
            "removed": removed.to_numpy(),
            "folded": sites["linear"].to_numpy(),
            "not_folded": not_folded.clip(lower=0).to_numpy(),
            "kept": (sites["units_after"] - not_folded.clip(lower=0)).to_numpy(),
        }
    )


def site_breakdown(report: pd.DataFrame, ax: Any = None) -> Any:
    """Where folding happens, at a glance: one horizontal bar per site of an
    `apply` report, its neurons split into removed, folded, linear but not
    folded, and kept (as fractions of the site's width, the width in the
    label)."""
    ax = _axes(ax)
    parts = site_parts(report)
    widths = parts[[p for p, _, _ in SITE_PARTS]].sum(axis=1).replace(0, 1)
    left = pd.Series(0.0, index=parts.index)
    rows = list(range(len(parts)))[::-1]  # first site on top
    for part, label, colour in SITE_PARTS:
        share = parts[part] / widths
        ax.barh(rows, share, left=left, color=colour, label=label)
        left += share
    ax.set_yticks(rows)
    ax.set_yticklabels([f"{s} ({int(w)})" for s, w in zip(parts["site"], widths)])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the site's neurons")
    threshold = report.attrs.get("threshold")
    if threshold is not None:
        ax.set_title(f"threshold {threshold:g}")
    ax.legend(loc="lower right", fontsize=7)
    return ax
