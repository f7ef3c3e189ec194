"""Activation-based importance pruning, the baseline the paper compares with.

Following Dobler & Lemmerich's earlier method (MDPI Algorithms 17(1):48,
2024): in each round, remove the neurons whose activation rate is at or
below the `quantile` of all rates (over every site), optionally followed by
fine-tuning epochs. Removing a neuron that is sometimes active is lossy,
unlike folding; combine the two by pruning first and then folding
(`apply`), and compare sizes and metrics.
"""

import numbers

import numpy as np
import pandas as pd

from keras_linprune import flatten as flatten_lib
from keras_linprune import graph as graph_lib
from keras_linprune import measurement
from keras_linprune import plan as plan_lib
from keras_linprune import rebuild as rebuild_lib
from keras_linprune import sites as sites_lib
from keras_linprune import validation


def prune_by_activation(model, data, *, quantile=0.05, rounds=1,
                        fit_data=None, epochs_per_round=0, batch_size=None,
                        verbose=0):
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
    graph_lib.functional_graph(model)
    if (isinstance(quantile, bool) or not isinstance(quantile, numbers.Real)
            or not 0.0 < quantile < 1.0):
        raise ValueError(
            "Expected `quantile` in (0, 1). Received: "
            f"quantile={quantile!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(
            f"Expected `rounds` to be an int >= 1. Received: rounds={rounds!r}")
    if epochs_per_round and fit_data is None:
        raise ValueError(
            "Expected `fit_data` to fine-tune on with `epochs_per_round`. "
            "Received: fit_data=None")
    if epochs_per_round and not model.compiled:
        raise ValueError(
            "Expected a compiled model to fine-tune. Received: an "
            "uncompiled model with epochs_per_round="
            f"{epochs_per_round}")
    batch_size = validation.check_batch_size(batch_size)
    history = []
    current = model
    for r in range(1, rounds + 1):
        fn = flatten_lib.flatten(graph_lib.functional_graph(current))
        found = sites_lib.find_sites(fn)
        stats = measurement.measure_sites(
            fn, found, data, batch_size=batch_size, verbose=verbose,
            model_name=current.name)
        rates = stats.rates
        if not rates:
            break
        cutoff = float(np.quantile(np.concatenate(list(rates.values())),
                                   quantile))
        remove = {k: np.flatnonzero(v <= cutoff) for k, v in rates.items()}
        plan = plan_lib.removal_plan(found.spec, remove,
                                     dict(quantile=quantile, round=r))
        current, _ = rebuild_lib.rebuild(current, fn, found, plan)
        if epochs_per_round:
            x, y = fit_data
            current.fit(x, y, epochs=epochs_per_round, verbose=verbose)
        history.append(dict(
            round=r, rate_cutoff=cutoff,
            removed=int(sum(d.constant.size
                            for d in plan.decisions.values())),
            params=current.count_params()))
    return current, pd.DataFrame(history)
