"""Walking functional graphs."""

import keras
import pytest

from keras_linprune.graph import nodes


def chain():
    x = keras.Input((4,), name="features")
    h = keras.layers.Dense(3, name="hidden")(x)
    return keras.Model(x, keras.layers.Dense(2, name="out")(h), name="chain")


def test_a_sequential_runs_a_functional_graph():
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    fn = nodes.functional_graph(seq)
    assert [n.operation.name for n in nodes.ordered_nodes(fn)] == ["d"]
    with pytest.raises(ValueError, match="not built"):
        nodes.functional_graph(keras.Sequential([keras.layers.Dense(2)]))


def test_a_chain_becomes_a_sequential_sharing_its_layers():
    model = chain()
    seq = nodes.as_sequential(model)
    assert isinstance(seq, keras.Sequential)
    assert seq.layers == [model.get_layer("hidden"), model.get_layer("out")]
    x = keras.Input((4,))
    a, b = keras.layers.Dense(2)(x), keras.layers.Dense(2)(x)
    assert nodes.as_sequential(keras.Model(x, keras.layers.Add()([a, b]))) is None


def test_readers_call_counts_and_keys():
    x = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    y = shared(shared(x))
    model = keras.Model(x, y)
    graph_nodes = nodes.ordered_nodes(model)
    assert nodes.call_counts(graph_nodes)[id(shared)] == 2
    readers = nodes.consumers_by_tensor(graph_nodes)
    assert len(readers[id(x)]) == 1
    assert nodes.tensor_key(y, call=1) == "shared_1"
    assert nodes.params_of(shared) == 4 * 4 + 4


def test_new_inputs_keep_names_and_shapes():
    model = chain()
    fresh = nodes.new_inputs(model)
    (tensor,) = fresh.values()
    assert tensor is not model.inputs[0] and tensor.shape == (None, 4)
    rebuilt = nodes.new_model(model, {**fresh, id(model.outputs[0]): tensor}, "copy")
    assert rebuilt.name == "copy" and rebuilt.inputs[0] is tensor
