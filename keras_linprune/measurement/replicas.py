"""Running a per-batch sum across the replicas of a `tf.distribute` strategy.

Counting (`counting.py`) and refit's normal equations (`rebuild/refit.py`)
are both sums over rows. Under a strategy of several replicas each batch is
split by rows, replica `i` of `n` taking rows `i, i + n, ...` (the global
replica id, so with `MultiWorkerMirroredStrategy` every worker reads the same
batches and counts its own replicas' rows), and the per-replica sums are
reduced with `SUM`, tensor by tensor. Integer sums are then identical to one
device's; float sums equal them up to the order of addition.
"""

import tensorflow as tf


def active_strategy(strategy=None):
    """The given strategy, else the one in scope, else `None`; `None` too
    for a strategy of a single replica (nothing to split)."""
    if strategy is None and tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
    if strategy is None or strategy.num_replicas_in_sync < 2:
        return None
    return strategy


def compiled_split_sum(strategy, sums, inputs):
    """`split_sum(strategy, sums, x)` traced once as a graph of the batch
    `x` (a list of tensors like the Keras `inputs`, any number of rows):
    the split, every replica's step and the reductions run as one graph
    instead of paying Python dispatch per batch."""
    specs = [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in inputs]
    return tf.function(
        lambda x: split_sum(strategy, sums, x), autograph=False
    ).get_concrete_function(specs)


def split_sum(strategy, sums, x):
    """`sums(rows)` over the rows of batch `x` split across the replicas of
    `strategy`, reduced with `SUM`.

    Args:
        strategy: A `tf.distribute.Strategy` of several replicas.
        sums: A (compiled) function of a list of input tensors returning a
            nested structure of tensors that add over rows.
        x: The batch, a list of input tensors.
    """
    x = [tf.convert_to_tensor(t) for t in x]
    n = strategy.num_replicas_in_sync
    shards = strategy.experimental_distribute_values_from_function(
        lambda context: [t[context.replica_id_in_sync_group :: n] for t in x]
    )
    per_replica = strategy.run(sums, args=(shards,))
    # One reduction per tensor: with one replica per worker (multi-worker)
    # `strategy.run` returns plain tensors, and reducing the whole structure
    # at once would try to stack tensors of different shapes.
    return tf.nest.map_structure(
        lambda v: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None),
        per_replica,
    )


def add_sums(totals, values):
    """Running totals of per-batch sums on the host: `values` (a list of
    arrays) added element by element to `totals` (`None` before the first
    batch)."""
    return values if totals is None else [a + b for a, b in zip(totals, values)]
