"""Which features refit's moments cover, per site."""

import keras

from keras_linprune.analysis import analyse
from keras_linprune.measurement import moment_blocks


def chain_of_denses(shared=False):
    x = keras.Input((5,), name="x")
    d0 = keras.layers.Dense(6, activation="relu", name="d0")
    h = d0(x)
    if shared:
        h = d0(keras.layers.Dense(5, name="back")(h))
    h = keras.layers.Dense(4, activation="relu", name="d1")(h)
    return keras.Model(x, keras.layers.Dense(2, name="out")(h))


def test_any_plan_covers_the_inputs_of_every_producer_that_can_fold_into_it():
    analysis = analyse(chain_of_denses())
    blocks = moment_blocks.for_any_plan(analysis)
    assert sorted(blocks) == ["d0", "d1"]
    assert [(b.source, b.width) for b in blocks["d0"]] == [("x", 5)]
    # d1 reads d0's activation, and the input x once d0's neurons fold.
    assert sorted((b.source, b.width) for b in blocks["d1"]) == [("d0", 6), ("x", 5)]


def test_a_shared_producer_cannot_be_refitted():
    analysis = analyse(chain_of_denses(shared=True))
    site = next(s for s in analysis.spec.sites if s.producer == "d0")
    assert moment_blocks.unfit_reason(analysis, site) == "shared layer"
    assert "d0" not in moment_blocks.for_any_plan(analysis)
