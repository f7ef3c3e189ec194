"""Activation-based importance pruning, the baseline the paper compares with.

Following Dobler & Lemmerich's earlier method (MDPI Algorithms 17(1):48,
2024): in each round, remove the neurons whose activation rate is at or
below the `quantile` of all rates (over every site), optionally followed by
fine-tuning epochs. Removing a neuron that is sometimes active is lossy,
unlike folding; combine the two by pruning first and then folding
(`apply`), and compare sizes and metrics.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pandas as pd

from keras_linprune import checks
from keras_linprune.analysis import analyse
from keras_linprune.graph.model_checks import check_model
from keras_linprune.measurement import counting
from keras_linprune.plan import decisions
from keras_linprune.rebuild import rebuild


def prune_by_activation(
    model: keras.Model,
    data: Any,
    *,
    quantile: float = 0.05,
    rounds: int = 1,
    fit_data: Any = None,
    epochs_per_round: int = 0,
    batch_size: int | None = None,
    verbose: int = 0,
) -> tuple[keras.Model, pd.DataFrame]:
    """Removes the least active neurons, round by round.

    Args:
        model: A functional or Sequential `keras.Model`. Never modified.
        data: Calibration inputs for the activation rates.
        quantile: In (0, 1): neurons with a rate at or below this quantile
            of all rates are removed in each round.
        rounds: Number of rounds (>= 1).
        fit_data: `(x, y)` to fine-tune on after each round (needs a
            compiled `model`; the pruned model is compiled like it).
        epochs_per_round: Fine-tuning epochs per round (0: none).
        batch_size: Rows per batch when measuring.
        verbose: Progress output (0 or 1).

    Returns:
        `(pruned_model, history)`: the pruned `keras.Model` and a pandas
        DataFrame with one row per round (`round`, `rate_cutoff`,
        `removed`, `params`).

    Example:

    ```python
    pruned, history = linprune.prune_by_activation(
        model, x_train, quantile=0.05, rounds=3,
        fit_data=(x_train, y_train), epochs_per_round=1)
    small, report = linprune.apply(pruned, x_train)   # then fold
    ```
    """
    check_model(model)
    checks.check_prune(model, quantile, rounds, fit_data, epochs_per_round)
    batch_size = checks.check_count("batch_size", batch_size)
    history = []
    current = model
    for r in range(1, rounds + 1):
        analysis = analyse(current)
        stats = counting.count_sites(
            analysis, data, batch_size=batch_size, verbose=verbose
        )
        rates = stats.rates
        if not rates:
            break
        cutoff = float(np.quantile(np.concatenate(list(rates.values())), quantile))
        remove = {k: np.flatnonzero(v <= cutoff) for k, v in rates.items()}
        plan = decisions.removal_plan(
            analysis.spec, remove, dict(quantile=quantile, round=r)
        )
        current = rebuild(analysis, plan)
        if epochs_per_round:
            x, y = fit_data
            current.fit(x, y, epochs=epochs_per_round, verbose=verbose)
        history.append(
            dict(
                round=r,
                rate_cutoff=cutoff,
                removed=int(sum(d.constant.size for d in plan.decisions.values())),
                params=current.count_params(),
            )
        )
    return current, pd.DataFrame(history)
