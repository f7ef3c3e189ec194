"""Sums across replicas: equal to one device's."""

import numpy as np
import tensorflow as tf

from keras_linprune.measurement import replicas


def test_host_totals_add_batch_by_batch():
    totals = replicas.add_sums(None, [np.array([1, 2]), np.array(3)])
    totals = replicas.add_sums(totals, [np.array([10, 20]), np.array(30)])
    assert [t.tolist() for t in totals] == [[11, 22], 33]


def test_a_split_sum_equals_the_sum_of_the_whole_batch():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    x = np.arange(12, dtype="float32").reshape(6, 2)

    def sums(batch):
        (rows,) = batch
        return [tf.reduce_sum(rows, axis=0), tf.reduce_sum(rows * rows)]

    got = replicas.split_sum(strategy, sums, [x])
    np.testing.assert_allclose(got[0], x.sum(axis=0))
    np.testing.assert_allclose(got[1], (x * x).sum())


def test_one_replica_has_nothing_to_split():
    assert replicas.active_strategy(None) is None
    assert replicas.active_strategy(tf.distribute.OneDeviceStrategy("/cpu:0")) is None
