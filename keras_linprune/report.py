"""The report: one pandas row per candidate site, totals in `attrs`.

Columns:

* `site`, `layer`, `consumers`: the activation's key, the producer layer,
  and the consumer layers (comma-separated);
* `activation`: the site's piecewise-linear activation;
* `units_before`, `units_after`, `linear` (neurons folded into shortcuts),
  `dead` (never active: removed outright), `constant` (in a constant piece
  other than 0, e.g. saturated ReLU6: removed, value moved into the
  consumer bias), `candidates` (neurons at or above the threshold, folded
  or not);
* `params_before` / `params_after`: the producer layer's own parameters
  (kernel + bias; after: its first emitted `Dense`);
* `shortcut_params`: parameters of the shortcut layers added in front of
  this site's consumers; `shortcut_form` says how they are stored
  (`dense`, `low-rank (r=...)` or `mixed`);
* `macs_before` / `macs_after`: multiply-accumulates per example of the
  producer layer (its kernel applied at every position; `NaN` when a
  spatial size is unknown);
* `rate_min`, `rate_median`, `rate_max`: activation rates of the site;
* `folded` and `reason` (why the linear neurons were not folded);
  `certified`: folded under `certify=True`, exact on the whole input box.

Totals live in `report.attrs` (`params_before`, `params_after`,
`macs_before`, `macs_after`, `macs_ratio`, the options) and behind the
`report.linprune` accessor: `report.linprune.totals` (a dict) and
`report.linprune.summary()` (text).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import pandas as pd

from keras_linprune.graph import nest
from keras_linprune.plan.decisions import Plan

if TYPE_CHECKING:  # analysis.py reaches report.py through graph/
    from keras_linprune.analysis import Analysis

COLUMNS = (
    "site",
    "layer",
    "consumers",
    "activation",
    "units_before",
    "units_after",
    "linear",
    "dead",
    "constant",
    "candidates",
    "folded",
    "certified",
    "params_before",
    "params_after",
    "shortcut_params",
    "shortcut_form",
    "macs_before",
    "macs_after",
    "rate_min",
    "rate_median",
    "rate_max",
    "reason",
)


def make_report(
    plan: Plan,
    rates: Mapping[str, np.ndarray],
    *,
    order: Mapping[str, int],
    layer_params: Mapping[str, int],
    unchanged: Sequence[tuple[str, str]],
    rows: int,
) -> pd.DataFrame:
    """Builds the report DataFrame.

    Args:
        plan: The executed `plan.Plan`.
        rates: Mapping from site key to per-neuron rates.
        order: Mapping from layer name to its position in the graph.
        layer_params: Mapping from layer name to its original parameters.
        unchanged: `(name, class name)` of layers copied unchanged.
        rows: Number of calibration rows.

    Returns:
        A `pandas.DataFrame` with `COLUMNS`, sorted in graph order.
    """
    spec = plan.spec
    records = [_site_record(plan, site, rates[site.name]) for site in spec.sites]
    records += [
        _rejection_record(rej, layer_params.get(rej.producer, 0))
        for rej in spec.rejected
    ]
    records.sort(key=lambda rec: order.get(rec["layer"], len(order)))
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    before, after = spec.total_params, plan.params
    macs_before, macs_after = spec.total_macs, plan.macs
    frame.attrs.update(
        params_before=before,
        params_after=after,
        ratio=after / before if before else 1.0,
        saved=before - after,
        macs_before=macs_before,
        macs_after=macs_after,
        macs_ratio=(
            macs_after / macs_before if macs_before and macs_after is not None else None
        ),
        calibration_rows=rows,
        unchanged_layers=[f"{n} ({c})" for n, c in unchanged],
        **plan.options,
    )
    if not spec.sites:
        frame.attrs["note"] = (
            "nothing was folded: the model has no linear layer -> piecewise-linear "
            "activation -> linear layer site"
            + (" that can be folded (see `reason`)" if spec.rejected else "")
        )
    return frame


def layer_actions(
    analysis: Analysis, plan: Plan, small: keras.Model
) -> list[dict[str, Any]]:
    """What happened to every layer: one dict per original layer (`layer`,
    `type`, `action`), then one per layer the rebuild added.

    Actions: `"copied"` (same config and state), `"narrowed"` (fewer units or
    inputs), `"rewritten"` (now sums shortcut terms), `"removed"` (folded
    away: a fully folded producer, its activation and dropout),
    `"absorbed"` (a normalization folded into a linear layer), `"bypassed"`
    (a `Concatenate` whose reader reads the parts), `"added"` (a shortcut,
    low-rank pair, `Add` or `Activation` of the rebuild).
    """
    spec = plan.spec
    copies = dict(nest.flat_operations(small))
    rows = []
    for name in analysis.layer_order:
        operation = analysis.operations[name]
        kind = type(operation).__name__
        if name in spec.linears:
            action = _linear_action(spec.linears[name], plan.layout[name])
        elif name in spec.absorbed:
            action = "absorbed"
        elif name in spec.bypassed:
            action = "bypassed"
        elif name not in copies:
            action = "removed"
        else:
            action = "narrowed" if _narrowed(operation, copies) else "copied"
        rows.append(dict(layer=name, type=kind, action=action))
    original = set(analysis.layer_order)
    rows += [
        dict(layer=name, type=type(layer).__name__, action="added")
        for name, layer in copies.items()
        if name not in original
    ]
    return rows


def _linear_action(lin, layout):
    if layout.units == 0:
        return "removed"
    own = {key for key, _ in lin.inputs}
    if set(layout.sources) - own:
        return "rewritten"
    return "narrowed" if layout.params != lin.params - lin.absorbed_params else "copied"


def _narrowed(operation, copies):
    """Whether a copied layer lost weights (per-channel slopes of a
    narrowed producer)."""
    if not hasattr(operation, "count_params"):
        return False  # an operation that is not a layer: no weights
    return copies[operation.name].count_params() != operation.count_params()


def _site_record(plan, site, rates):
    """The report row of a fold site."""
    d = plan.decisions[site.name]
    r = np.asarray(rates, np.float64)
    producer = plan.layout[site.producer]
    lin = plan.spec.linears[site.producer]
    return dict(
        site=site.name,
        layer=site.producer,
        consumers=", ".join(site.consumers),
        units_before=site.width,
        units_after=int(d.keep.size),
        activation=site.activation.name,
        linear=int(d.linear.size),
        dead=int(d.dead.size),
        constant=int(d.constant.size - d.dead.size),
        candidates=d.candidates,
        folded=d.folded,
        certified=False,
        params_before=plan.spec.linears[site.producer].params,
        params_after=producer.params - producer.shortcut_params,
        shortcut_params=sum(plan.layout[c].shortcut_params for c in site.consumers),
        shortcut_form=_shortcut_form(plan, site),
        macs_before=_macs(lin, lin.units * lin.taps * lin.in_width),
        macs_after=_macs(lin, producer.params - producer.units * producer.use_bias),
        rate_min=r.min(),
        rate_median=float(np.median(r)),
        rate_max=r.max(),
        reason=d.reason,
    )


def _rejection_record(rejection, params):
    """The report row of a candidate that is not a fold site."""
    return dict(
        site=rejection.name,
        layer=rejection.producer,
        consumers="",
        activation="",
        units_before=rejection.width,
        units_after=rejection.width,
        linear=0,
        dead=0,
        constant=0,
        candidates=0,
        folded=False,
        certified=False,
        params_before=params,
        params_after=params,
        shortcut_params=0,
        shortcut_form="",
        macs_before=np.nan,
        macs_after=np.nan,
        rate_min=np.nan,
        rate_median=np.nan,
        rate_max=np.nan,
        reason=f"not a fold site: {rejection.reason}",
    )


def _macs(lin, kernel_params):
    """Multiply-accumulates of `kernel_params` applied at `lin`'s
    positions, or NaN when they are unknown."""
    return np.nan if lin.positions is None else lin.positions * kernel_params


def _shortcut_form(plan, site):
    """ "dense", "low-rank (r=3)", "mixed" or "" for a site's consumers."""
    forms = set()
    for c in site.consumers:
        layout = plan.layout[c]
        own = {key for key, _ in plan.spec.linears[c].inputs}
        for key in layout.sources:
            if key in own or layout.units == 0:
                continue
            r = layout.ranks.get(key)
            forms.add("dense" if r is None else f"low-rank (r={r})")
    if len(forms) > 1:
        return "mixed"
    return forms.pop() if forms else ""


#: Width `summary` wraps its text to, like a terminal's.
SUMMARY_WIDTH = 100


def summary(report: pd.DataFrame, width: int = SUMMARY_WIDTH) -> str:
    """A human-readable summary of a report, like `model.summary()`: the
    options, one row per site, each site's note (why its linear neurons
    stay) below the table, and the totals, wrapped to `width` columns.

    Example:

    ```python
    small, report = linprune.apply(model, x)
    print(linprune.summary(report))   # or report.linprune.summary()
    report.linprune.explain("dense_2")  # one site in full
    ```
    """
    a = report.attrs
    header = (
        "keras_linprune: threshold={threshold}, layer_threshold={lt!r}, "
        "remove_dead={rd}, {rows:,} calibration rows".format(
            threshold=_number(a.get("threshold")),
            lt=a.get("layer_threshold"),
            rd=a.get("remove_dead"),
            rows=a.get("calibration_rows", 0),
        )
    )
    lines = textwrap.wrap(header, width, subsequent_indent="  ")
    if len(report):
        lines.append(_site_table(report).to_string(index=False))
        notes = [(site, r) for site, r in zip(report["site"], report["reason"]) if r]
        if notes:
            lines.append("Notes:")
        for site, reason in notes:
            lines += textwrap.wrap(
                f"{site}: {reason}",
                width,
                initial_indent="  ",
                subsequent_indent="    ",
            )
    if "note" in a:
        lines += textwrap.wrap(a["note"], width)
    lines += textwrap.wrap(
        "Total params: {b:,} -> {f:,} ({r:.1%} of the original, {s:,} saved)".format(
            b=a.get("params_before", 0),
            f=a.get("params_after", 0),
            r=a.get("ratio", 1.0),
            s=a.get("saved", 0),
        ),
        width,
    )
    if a.get("macs_before"):
        lines.append(
            "Total MACs per example: {b:,} -> {f:,} ({r:.1%} of the original)".format(
                b=a["macs_before"], f=a["macs_after"], r=a["macs_ratio"]
            )
        )
    for warning in a.get("warnings", ()):
        lines += textwrap.wrap(f"Warning: {warning}", width, subsequent_indent="  ")
    if a.get("unchanged_layers"):
        lines += textwrap.wrap(
            "Copied unchanged: " + ", ".join(a["unchanged_layers"]),
            width,
            subsequent_indent="  ",
        )
    return "\n".join(lines)


def _number(value):
    return f"{value:.4g}" if isinstance(value, float) else value


def _site_table(report):
    """The per-site columns of `summary` (the notes go below it)."""
    return pd.DataFrame(
        {
            "site": report["site"],
            "units": [
                f"{b} -> {u}"
                for b, u in zip(report["units_before"], report["units_after"])
            ],
            "linear": report["linear"],
            "dead": report["dead"],
            "const": report["constant"],
            "shortcut": report["shortcut_params"].map("{:,}".format),
            "layer params": [
                f"{b:,} -> {u:,}"
                for b, u in zip(report["params_before"], report["params_after"])
            ],
            "rates min/med/max": [
                "-" if np.isnan(lo) else f"{lo:.2f}/{me:.2f}/{hi:.2f}"
                for lo, me, hi in zip(
                    report["rate_min"], report["rate_median"], report["rate_max"]
                )
            ],
        }
    )


def explain(report: pd.DataFrame, site: str) -> str:
    """Everything the report says about one site, as text: its layers, its
    neurons (kept, folded, removed), parameters, activation rates and, when
    its linear neurons stay, why.

    Raises:
        KeyError: If `site` is not a site of the report (the message lists
            them).
    """
    rows = report[report["site"] == site]
    if rows.empty:
        raise KeyError(
            f"Expected one of the report's sites: {', '.join(report['site'])}. "
            f"Received: {site!r}"
        )
    row = rows.iloc[0]
    lines = [
        f"{site}: {row['layer']} -> {row['consumers'] or '(no consumer)'}, "
        f"activation {row['activation'] or '-'}",
        f"  units {row['units_before']} -> {row['units_after']}: "
        f"{row['linear']} folded as linear, {row['dead']} dead, "
        f"{row['constant']} constant removed",
        f"  parameters {row['params_before']:,} -> {row['params_after']:,} "
        f"(shortcut {row['shortcut_params']:,}"
        + (f", {row['shortcut_form']})" if row["shortcut_form"] else ")"),
    ]
    if not np.isnan(row["rate_min"]):
        lines.append(
            f"  activation rates: min {row['rate_min']:.3f}, median "
            f"{row['rate_median']:.3f}, max {row['rate_max']:.3f}"
        )
    if row["reason"]:
        lines += textwrap.wrap(
            f"why: {row['reason']}",
            SUMMARY_WIDTH,
            initial_indent="  ",
            subsequent_indent="    ",
        )
    return "\n".join(lines)


@pd.api.extensions.register_dataframe_accessor("linprune")
class ReportAccessor:
    """`report.linprune.totals`, `.summary()`, `.explain(site)`, `.layers()`."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def layers(self) -> pd.DataFrame:
        """One row per layer of the original model and per added layer:
        `layer`, `type`, `action` (see `report.layer_actions`)."""
        return pd.DataFrame(
            self._frame.attrs.get("layers", []), columns=["layer", "type", "action"]
        )

    @property
    def totals(self) -> dict:
        """Dict of totals: params before/after, ratio, saved, options."""
        return dict(self._frame.attrs)

    def summary(self, width: int = SUMMARY_WIDTH) -> str:
        """The text of `keras_linprune.summary(report)`."""
        return summary(self._frame, width)

    def explain(self, site: str) -> str:
        """The text of `report.explain(report, site)`: one site in full."""
        return explain(self._frame, site)
