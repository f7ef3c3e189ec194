"""The random-graph generator of the property test and benchmark."""

import numpy as np
import pytest

from keras_linprune.examples.random_graphs import random_model


@pytest.mark.parametrize("kind,shape", [("vector", (6,)), ("image", (6, 6, 3))])
def test_a_seed_gives_one_model_and_its_inputs(kind, shape):
    model, x = random_model(3, kind=kind)
    again, x_again = random_model(3, kind=kind)
    assert [type(layer) for layer in model.layers] == [
        type(layer) for layer in again.layers
    ]
    np.testing.assert_array_equal(x, x_again)
    assert x.shape[1:] == shape and np.isfinite(model.predict(x, verbose=0)).all()


def test_seeds_differ():
    a, _ = random_model(0, layers=6)
    b, _ = random_model(1, layers=6)
    assert [layer.name for layer in a.layers] != [layer.name for layer in b.layers] or (
        a.count_params() != b.count_params()
    )
