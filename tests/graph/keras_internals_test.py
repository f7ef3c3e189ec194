"""The one module that reads Keras internals: what it answers."""

import logging

import keras
import numpy as np

from keras_linprune.graph import keras_internals as internals
from tests import factories as f


def test_graph_facts():
    x = keras.Input((3,), name="features")
    dense = keras.layers.Dense(2, name="d")
    y = dense(x)
    model = keras.Model(x, y)
    assert internals.is_functional(model)
    assert not internals.is_functional(keras.Sequential([keras.layers.Dense(1)]))
    layer, node_index, tensor_index = internals.tensor_history(y)
    assert (layer, tensor_index) == (dense, 0)
    assert [n.operation for n in internals.ordered_nodes(model)] == [dense]
    assert internals.only_call(dense) is not None
    dense(x)
    assert internals.only_call(dense) is None  # called twice


def test_arithmetic_op_classes_are_what_symbolic_arithmetic_records():
    classes = internals.arithmetic_op_classes()
    x = keras.Input((3,))
    model = keras.Model(x, x * 2.0)
    (node,) = internals.ordered_nodes(model)
    assert type(node.operation) is classes["Multiply"]


def test_zero_initialized_builds_with_zeros_and_restores_the_config():
    layer = keras.layers.Dense(2, kernel_initializer="ones")
    with internals.zero_initialized([layer]):
        layer.build((None, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.kernel), 0.0)
    assert layer.get_config()["kernel_initializer"]["class_name"] == "Ones"


def test_variables_convert_to_numpy_without_numpy_2s_deprecation_warning():
    import warnings

    import keras
    import numpy as np

    variable = keras.Variable(np.arange(3.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # issue 20's noise
        np.testing.assert_array_equal(internals.to_numpy(variable), [0.0, 1.0, 2.0])


def test_retracing_warnings_are_dropped_inside_and_nothing_else():
    logger = logging.getLogger("tensorflow")
    records = f.LogRecords()
    logger.addHandler(records)
    retracing = "5 out of the last 5 calls to <f> triggered tf.function retracing."
    try:
        with internals.quiet_retracing():
            logger.warning(retracing)
            logger.warning("something else")
        logger.warning(retracing)
    finally:
        logger.removeHandler(records)
    assert records.messages == ["something else", retracing]


def test_refitting_many_plans_logs_no_retracing_warning():
    """Issue 20: refitting plan after plan in one process (each refit's
    `tf.function` for its sums) printed TensorFlow's retracing warning."""
    import keras_linprune as linprune

    logger = logging.getLogger("tensorflow")
    records = f.LogRecords()
    logger.addHandler(records)
    try:
        model, x = f.shape_biases(f.mlp()), f.data(1100)  # two batches a pass
        for size in (0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4):
            linprune.apply(
                model, x, target_size=size, refit=True, remove_inactive=False
            )
    finally:
        logger.removeHandler(records)
    assert not [m for m in records.messages if "retracing" in m]
