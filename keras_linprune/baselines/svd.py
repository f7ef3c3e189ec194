"""Truncated-SVD factorisation of Dense kernels to a budget (a baseline).

Each `Dense` kernel `W` (inputs x units) becomes two `Dense` layers, `x ->
x U_r` (no bias) and `-> (x U_r) (S_r V_r^T) + b` with the layer's
activation, keeping the top `r` singular values: `r (inputs + units)`
weights instead of `inputs x units`. The same fraction of every layer's
full rank is kept, as little as the budget asks; a layer whose factors
would not be smaller is kept whole. For chains of layers (a Sequential, or
a functional model that is one): other layers are copied unchanged.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from keras_linprune import checks
from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import nodes, registry
from keras_linprune.graph.copier import fresh_copy
from keras_linprune.graph.kinds.linear import DENSE
from keras_linprune.graph.model_checks import check_model


def factorize_dense(
    model: keras.Model, *, target_params: int
) -> tuple[keras.Model, dict]:
    """Factorises every Dense kernel at one share of its rank so that the
    model has at most `target_params` parameters.

    Args:
        model: A chain model (`keras.Sequential`, or a functional model with
            one input, one output and each layer called once in a row).
            Not modified.
        target_params: The parameter budget.

    Returns:
        `(factorised, info)`: the new functional model and `{"rank_share":
        the share of each kernel's rank kept, "params": its count}`.

    Raises:
        ValueError: If the model is not a chain, or the budget is below
            what rank 1 everywhere reaches.
    """
    check_model(model)
    checks.check_target(None, None, target_params, None)
    chain = nodes.as_sequential(nodes.functional_graph(model))
    if chain is None:
        raise ValueError(
            "Expected a chain of layers (one input, each layer called once on "
            f"the previous one's output). Received: model {model.name!r}"
        )
    layers = chain.layers
    low, high = 0.0, 1.0
    if _count(layers, 0.0) > target_params:
        raise ValueError(
            "Expected a budget rank-1 factors reach: "
            f"{_count(layers, 0.0):,} parameters. Received: "
            f"target_params={target_params:,}"
        )
    for _ in range(30):  # bisect the share of each rank kept
        middle = (low + high) / 2
        if _count(layers, middle) <= target_params:
            low = middle
        else:
            high = middle
    factorised = _build(chain, low)
    return factorised, dict(rank_share=low, params=factorised.count_params())


def _rank(layer, share):
    """The rank `layer` keeps at `share`, or `None` to keep it whole."""
    if registry.kind_of(layer) is not DENSE:
        return None
    n_in, n_out = layer.kernel.shape
    rank = max(1, math.ceil(share * min(n_in, n_out)))
    return rank if rank * (n_in + n_out) < n_in * n_out else None


def _count(layers, share):
    total = 0
    for layer in layers:
        rank = _rank(layer, share)
        if rank is None:
            total += layer.count_params()
        else:
            n_in, n_out = layer.kernel.shape
            total += rank * (n_in + n_out) + (n_out if layer.use_bias else 0)
    return total


def _build(chain, share):
    first = chain.inputs[0]
    x = keras.Input(batch_shape=first.shape, dtype=first.dtype)
    h = x
    for layer in chain.layers:
        rank = _rank(layer, share)
        if rank is None:
            copy = fresh_copy(layer, layer.name)
            h = copy(h)
            copy.set_weights(layer.get_weights())
            continue
        h = _factorised(layer, rank, h)
    return keras.Model(x, h, name=f"{chain.name}_svd")


def _factorised(layer, rank, h):
    kernel = internals.to_numpy(layer.kernel).astype(np.float64)
    u, s, vt = np.linalg.svd(kernel, full_matrices=False)
    down = keras.layers.Dense(rank, use_bias=False, name=f"{layer.name}_down")
    config = layer.get_config()
    config["name"] = layer.name
    up = keras.layers.Dense.from_config(config)
    h = up(down(h))
    down.set_weights([u[:, :rank].astype("float32")])
    weights = [(s[:rank, None] * vt[:rank]).astype("float32")]
    if layer.use_bias:
        weights.append(internals.to_numpy(layer.bias))
    up.set_weights(weights)
    return h
