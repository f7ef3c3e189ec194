"""The acceptance zoo: every construct compresses exactly at threshold 1.0."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.examples import zoo
from tests import factories as f


def compress(name, **kwargs):
    model = f.pin(zoo.BUILDERS[name]())
    small, report = f.compress_exact(model, zoo.inputs_for(model, 200), **kwargs)
    return model, small, report


@pytest.mark.parametrize("name", sorted(zoo.BUILDERS))
def test_zoo_model_compresses_exactly(name):
    model, small, report = compress(name)
    assert len(report) > 0
    assert report.reason[~report.folded].str.len().gt(0).all()


def rows(report):
    return report.set_index("site")


@pytest.mark.slow
def test_zoo_expectations():
    _, small, r = compress("residual_mlp")
    assert rows(r).loc["block0_up"].folded
    _, small, r = compress("two_branch")
    assert rows(r).loc["trunk", "consumers"] == "branch_a, branch_b"
    # Both branches fold through the Concatenate into `out`.
    assert rows(r).loc["branch_a", "consumers"] == "out"
    assert rows(r).loc[["branch_a", "branch_b"], "folded"].all()
    model, small, r = compress("multi_io")
    assert sorted(small.output_names) == sorted(model.output_names)
    _, small, r = compress("nested")
    assert rows(r).loc["block.up"].folded
    _, small, r = compress("shared_layer")
    assert rows(r).loc["shared_up"].folded
    assert len(small.get_layer("shared_down")._inbound_nodes) == 2
    _, small, r = compress("inverted_residual")
    assert "'dw' (DepthwiseConv2D)" in rows(r).loc["expand_relu", "reason"]
    _, small, r = compress("transformer_block")
    assert rows(r).loc["ffn_in"].folded
    assert "mha (MultiHeadAttention)" in r.attrs["unchanged_layers"]
    _, small, r = compress("dense_bn_relu")
    assert r.folded.all()
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in small.layers
    )


def test_model_without_any_linear_op_is_copied():
    x = keras.Input((4, 4, 2))
    y = keras.layers.GlobalAveragePooling2D()(keras.layers.MaxPooling2D()(x))
    model = keras.Model(x, y)
    data = zoo.inputs_for(model, 10)
    small, report = linprune.apply(model, data, verbose=0)
    assert len(report) == 0 and "nothing was folded" in report.attrs["note"]
    np.testing.assert_allclose(
        small.predict(data, verbose=0), model.predict(data, verbose=0)
    )
