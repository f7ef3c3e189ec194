"""Rebuild: the compressed Keras model from a plan.

`weights` runs the fold algebra on the real weights (float64), `refit`
optionally replaces the folded parts by least-squares fits, `emitter` walks
the graph and `terms` emits each rewritten linear node.
"""

import keras

from keras_linprune.graph import nest
from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.rebuild.emitter import GraphEmitter
from keras_linprune.rebuild.weights import folded_weights

__all__ = ["rebuild", "rebuild_flat"]


def rebuild_flat(analysis, plan, fitted=None):
    """The compressed graph before nested models are restored, and the map
    from `id` of every tensor of the (flat) original graph to its tensor
    there (a placeholder for a tensor that no longer exists): what refit
    reads the compressed model's own values through.

    Returns:
        `(flat keras.Model, tensors)`.
    """
    affines = folded_weights(analysis, plan, fitted)
    tensors = GraphEmitter(analysis, plan, affines).run(analysis.fn)
    flat = nodes_lib.new_model(analysis.fn, tensors, analysis.model.name)
    return flat, tensors


def rebuild(analysis, plan, fitted=None):
    """Emits the compressed `keras.Model` described by `plan`.

    Args:
        analysis: The analysed model (`analysis.analyse`).
        plan: A `plan.decisions.Plan` for `analysis.spec`.
        fitted: Optional refitted linear parts per site (`refit.fit`).

    Returns:
        A new `keras.Model` (compiled like the original when it was
        compiled) that shares no layer, variable or operation with the
        original: a `Sequential` for a `Sequential` whose result is still a
        chain, else a functional model; nested models stay nested
        (`graph.nest`).
    """
    small, tensors = rebuild_flat(analysis, plan, fitted)
    small = nest.renest(small, analysis.inlined, tensors)
    if isinstance(analysis.model, keras.Sequential):
        small = nodes_lib.as_sequential(small) or small
    _copy_compile_config(analysis.model, small)
    return small


def _copy_compile_config(model, small):
    config = model.get_compile_config() if model.compiled else None
    if config:
        try:
            small.compile_from_config(config)
        except Exception:  # noqa: BLE001 - a custom loss or metric
            pass
