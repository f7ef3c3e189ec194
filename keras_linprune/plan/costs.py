"""What the site rules minimise: the objective's cost of a plan (pure NumPy).

* `"params"`: `count_params()` of the rebuilt model (the paper's measure);
* `"macs"`: its multiply-accumulates per example;
* `"latency"`: a `LatencyModel`'s estimate, a cost per layer (a kernel
  launch, memory traffic, a fusion lost) plus a cost per multiply-accumulate,
  calibrated once on the machine (`measurement/latency_model.py`).

Each is counted exactly from the plan's layout, without building a model.

Example:

>>> model = LatencyModel(per_layer_ms=0.05, per_mac_ms=1e-9, batch=1)
>>> round(model.estimate_ms(layers=10, macs=2_000_000), 3)
0.502
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from keras_linprune.core.spec import GraphSpec
from keras_linprune.plan.layout import Decisions, Layout, total_macs, total_params

#: An objective: `cost(spec, decisions, layout)`, lower is better.
CostFunction = Callable[[GraphSpec, Decisions, Layout], float]

#: The objectives, and what their costs count (for messages).
OBJECTIVES = {
    "params": "parameter count",
    "macs": "multiply-accumulates",
    "latency": "estimated latency (microseconds)",
}


@dataclasses.dataclass(frozen=True)
class LatencyModel:
    """Latency of a compiled forward pass as `per_layer_ms` per layer plus
    `per_mac_ms` per multiply-accumulate of one example, at `batch` rows."""

    per_layer_ms: float
    per_mac_ms: float
    batch: int = 256

    def estimate_ms(self, layers: int, macs: int) -> float:
        """Estimated milliseconds of one batch."""
        return self.per_layer_ms * layers + self.per_mac_ms * macs * self.batch


def layer_count(spec: GraphSpec, decisions: Decisions, layout: Layout) -> int:
    """Layers the rebuild emits for the linear nodes: each kept node, a
    `Concatenate` where it reads several sources, and the first half of
    each low-rank term (a fully folded producer emits none)."""
    del spec, decisions  # the layout holds it all
    count = 0
    for node in layout.values():
        if node.units:
            count += 1 + len(node.ranks) + int(len(node.sources) > 1)
    return count


def known_macs(spec: GraphSpec, decisions: Decisions, layout: Layout) -> int:
    """`layout.total_macs`, for an objective that needs it known (checked
    before planning: `checks.check_objective_against`)."""
    macs = total_macs(spec, decisions, layout)
    if macs is None:
        raise ValueError(
            "Expected static spatial sizes: multiply-accumulates depend on "
            "them. Received: a model with unknown (None) spatial sizes"
        )
    return macs


def cost_function(objective: str, latency: LatencyModel | None = None) -> CostFunction:
    """`cost(spec, decisions, layout)` of an objective: a number to
    minimise (an int for parameters and multiply-accumulates, microseconds
    as a float for `"latency"`)."""
    if objective == "params":
        return total_params
    if objective == "macs":
        return known_macs
    if latency is None:
        raise ValueError("Expected a LatencyModel with objective='latency'")

    def latency_cost(spec, decisions, layout):
        layers = layer_count(spec, decisions, layout)
        macs = known_macs(spec, decisions, layout)
        return 1000 * latency.estimate_ms(layers, macs)

    return latency_cost
