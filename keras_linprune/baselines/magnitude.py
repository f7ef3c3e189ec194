"""Structured L1-magnitude pruning to a parameter budget (a baseline).

The usual structured pruning a Keras user would try: in every fold site
(a Dense or convolution followed by its activation), drop the neurons or
filters whose incoming weights have the smallest L1 norm, the same
fraction in every site, as many as the budget asks. Dropped units are
removed outright (their output treated as 0), with the package's exact
parameter count and rebuild, so the result is a plain Keras model like
`apply`'s and comparable with it at the same size.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_linprune import checks
from keras_linprune.analysis import analyse
from keras_linprune.graph.model_checks import check_model
from keras_linprune.plan import decisions
from keras_linprune.rebuild import rebuild
from keras_linprune.rebuild.weights import initial_affines


def prune_by_magnitude(
    model: keras.Model, *, target_params: int
) -> tuple[keras.Model, dict]:
    """Removes the lowest-L1 units of every site until the model has at
    most `target_params` parameters.

    Args:
        model: A functional or Sequential `keras.Model`. Not modified.
        target_params: The parameter budget (a positive int).

    Returns:
        `(pruned, info)`: the pruned model, and `{"fraction": share of each
        site's units removed, "params": its parameter count}`.

    Raises:
        ValueError: If the budget is below what removing all but one unit
            per site reaches.

    Example:

    ```python
    pruned, info = prune_by_magnitude(model, target_params=200_000)
    pruned.compile(...); pruned.fit(...)   # or linprune.finetune(pruned, model, x)
    ```
    """
    check_model(model)
    checks.check_target(None, None, target_params, None)
    analysis = analyse(model)
    order = _units_by_magnitude(analysis)
    low, high = 0.0, 1.0
    floor = _plan(analysis, order, high).params
    if floor > target_params:
        raise ValueError(
            "Expected a budget magnitude pruning can reach: one unit per site "
            f"keeps {floor:,} parameters. Received: target_params={target_params:,}"
        )
    for _ in range(30):  # bisect the fraction removed from every site
        middle = (low + high) / 2
        if _plan(analysis, order, middle).params <= target_params:
            high = middle
        else:
            low = middle
    plan = _plan(analysis, order, high)
    return rebuild(analysis, plan), dict(fraction=high, params=plan.params)


def _units_by_magnitude(analysis):
    """Per site, its units from the smallest L1 norm of incoming weights to
    the largest."""
    affines = initial_affines(analysis)
    order = {}
    for site in analysis.spec.sites:
        terms = affines[site.producer].terms.values()
        norms = sum(np.abs(k).reshape(-1, k.shape[-1]).sum(axis=0) for k in terms)
        order[site.name] = np.argsort(norms, kind="stable")
    return order


def _plan(analysis, order, fraction):
    remove = {
        site: units[: int(np.floor(fraction * len(units)))]
        for site, units in order.items()
    }
    return decisions.removal_plan(
        analysis.spec, remove, dict(magnitude_fraction=fraction)
    )
