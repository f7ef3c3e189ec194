"""Layer names of the rebuilt model."""

from keras_linprune.rebuild.names import Names


def test_unique_names_skip_every_taken_one():
    names = Names({"dense", "dense_1"})
    assert names.unique("dense") == "dense_2"
    assert names.unique("dense") == "dense_3"
    assert names.unique("new") == "new" and names.unique("new") == "new_1"


def test_an_original_name_is_claimed_once():
    names = Names({"head"})
    assert names.claim("head") == "head"  # the replacing layer keeps it
    assert names.claim("head") == "head_1"
