"""The one module that reads Keras internals: what it answers."""

import keras
import numpy as np

from keras_linprune.graph import keras_internals as internals


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
