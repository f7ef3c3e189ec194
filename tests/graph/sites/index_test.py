"""Read-only facts about a graph: readers, calls, tensor keys, roots."""

import keras

from keras_linprune.graph.sites.index import GraphIndex

L = keras.layers


def test_readers_calls_and_keys_of_a_shared_layer():
    x = keras.Input((4,), name="x")
    shared = L.Dense(4, name="shared")
    first = shared(x)
    second = shared(first)
    branch = L.Dense(2, name="branch")(first)
    model = keras.Model(x, [second, branch])
    index = GraphIndex(model)
    assert index.calls_of_layer(shared) == 2
    assert [index.call_of(t) for t in (first, second)] == [0, 1]
    assert index.tensor_key(second) == "shared_1"
    assert index.single_reader(first) is None  # read twice
    assert index.single_reader(second) is None  # a model output
    assert index.single_reader(x).operation is shared


def test_the_root_looks_through_layers_that_pass_values_on():
    x = keras.Input((4,), name="x")
    h = L.Dense(4, activation="relu", name="d")(x)
    dropped = L.Dropout(0.5)(h)
    model = keras.Model(x, L.Dense(1)(dropped))
    index = GraphIndex(model)
    assert index.root(dropped) == index.root(h) != index.root(x)
