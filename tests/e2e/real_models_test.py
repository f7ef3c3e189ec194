"""Models Keras users have: everything that is not folded is copied faithfully.

Each model compresses at threshold 1.0 and reproduces the original's outputs
through `predict()` (compiled) and an eager call; the compressed model shares
no layer, variable or operation with the original.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_linprune as linprune
from tests import factories as f

L = keras.layers
RNG = np.random.default_rng(0)


def assert_same_outputs(model, small, x):
    for a, b in zip(
        keras.tree.flatten(small.predict(x, verbose=0)),
        keras.tree.flatten(model.predict(x, verbose=0)),
    ):
        f.assert_close(a, b, atol=1e-5)
    for a, b in zip(
        keras.tree.flatten(small(x, training=False)),
        keras.tree.flatten(model(x, training=False)),
    ):
        f.assert_close(a, b, atol=1e-5)


def operations(model):
    return model.layers if isinstance(model, keras.Sequential) else model.operations


def assert_independent(model, small):
    ours = {id(op) for op in operations(small)}
    assert not ours & {id(op) for op in operations(model)}
    assert not {id(v) for v in small.variables} & {id(v) for v in model.variables}


def compress(model, x, **kwargs):
    before = [w.copy() for w in model.get_weights()]
    small, report = linprune.apply(model, x, verbose=0, **kwargs)
    assert_same_outputs(model, small, x)
    assert_independent(model, small)
    assert small.count_params() == report.attrs["params_after"]
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # the input model is unchanged
    return small, report


def shaped(model):
    """Pins some hidden neurons on and some off, so that folds happen."""
    return f.shape_biases(model, on=0.4, dead=0.2)


def test_operations_that_are_not_layers():
    x = keras.Input((6,))
    h = L.Dense(8, activation="relu", name="h")(x)
    h = L.Dense(8, activation="relu", name="g")((h + 1.0) * 0.5)
    y = L.Dense(3, name="out")(keras.ops.tanh(h) * h + x[:, :1])
    # Forced: by default the fold is declined, saving 3 biases for 2 layers.
    small, report = compress(shaped(keras.Model(x, y)), f.data(), layer_threshold=0)
    rows = report.set_index("site")
    assert rows.loc["h", "consumers"] == "g"  # through (h + 1) * 0.5
    assert rows.loc["h", "units_after"] < rows.loc["h", "units_before"]
    assert "is not a Dense or Conv layer" in rows.loc["g", "reason"]  # tanh(g) * g


def test_residual_written_with_plus():
    x = keras.Input((6,))
    h = L.Dense(16, activation="relu", name="ffn_in")(x)
    y = x + L.Dense(6, name="ffn_out")(h)
    small, report = compress(shaped(keras.Model(x, L.Dense(2)(y))), f.data())
    assert report.set_index("site").loc["ffn_in", "linear"] > 0


def test_transformer_block_with_plus_residuals():
    keras.utils.set_random_seed(0)
    x = keras.Input((5, 8))
    a = L.MultiHeadAttention(2, 4, name="mha")(x, x)
    h = L.LayerNormalization()(x + a)
    ff = L.Dense(8, name="ff2")(L.Dense(16, activation="relu", name="ff1")(h))
    y = L.GlobalAveragePooling1D()(L.LayerNormalization()(h + ff))
    model = keras.Model(x, L.Dense(2)(y))
    compress(model, RNG.normal(size=(32, 5, 8)).astype("float32"))


@pytest.mark.parametrize("reader", ["lstm", "gap", "mha"])
def test_masks_from_embedding(reader):
    keras.utils.set_random_seed(0)
    x = keras.Input((7,), dtype="int32")
    e = L.Embedding(30, 8, mask_zero=True)(x)
    e = L.Dense(8, activation="relu", name="proj")(e)
    if reader == "lstm":
        h = L.LSTM(4)(e)
    elif reader == "gap":
        h = L.GlobalAveragePooling1D()(e)
    else:
        h = L.GlobalAveragePooling1D()(L.MultiHeadAttention(2, 4)(e, e))
    model = keras.Model(x, L.Dense(2)(L.Dense(8, activation="relu")(h)))
    tokens = RNG.integers(1, 30, (48, 7)).astype("int32")
    tokens[:, 5:] = 0  # padding, masked out
    compress(model, tokens)


def test_masking_layer():
    x = keras.Input((6, 3))
    h = L.Dense(4, activation="relu")(L.Masking()(x))
    model = keras.Model(x, L.Dense(2)(L.GlobalAveragePooling1D()(h)))
    xs = RNG.normal(size=(32, 6, 3)).astype("float32")
    xs[:, 4:] = 0.0
    compress(model, xs)


def test_adapted_normalization_keeps_its_statistics():
    data = RNG.normal(100, 30, size=(128, 6)).astype("float32")
    norm = L.Normalization()
    norm.adapt(data)
    x = keras.Input((6,))
    model = shaped(keras.Model(x, L.Dense(2)(L.Dense(8, activation="relu")(norm(x)))))
    small, _ = compress(model, data)
    copied = small.get_layer(norm.name)
    np.testing.assert_array_equal(np.asarray(copied.mean), np.asarray(norm.mean))
    np.testing.assert_array_equal(
        np.asarray(copied.variance), np.asarray(norm.variance)
    )


def test_integer_and_string_lookups():
    ints = RNG.integers(0, 10, (64, 1))
    words = np.array([["red"], ["green"], ["blue"], ["red"]] * 16, dtype=object)
    int_lookup, str_lookup = L.IntegerLookup(), L.StringLookup()
    int_lookup.adapt(ints)
    str_lookup.adapt(words)
    a = keras.Input((1,), dtype="int64", name="a")
    b = keras.Input((1,), dtype="string", name="b")
    onehot_a = L.CategoryEncoding(int_lookup.vocabulary_size(), "one_hot")(
        int_lookup(a)
    )
    onehot_b = L.CategoryEncoding(str_lookup.vocabulary_size(), "one_hot")(
        str_lookup(b)
    )
    h = L.Dense(8, activation="relu")(L.Concatenate()([onehot_a, onehot_b]))
    model = keras.Model({"a": a, "b": b}, L.Dense(2)(h))
    data = {"a": tf.constant(ints), "b": tf.constant(words.astype(str))}
    small, _ = compress(model, data)
    assert (
        small.get_layer(str_lookup.name).get_vocabulary() == str_lookup.get_vocabulary()
    )


def test_text_vectorization_pipeline():
    texts = np.array(
        ["the cat sat", "a dog ran far", "the dog sat", "cats run"] * 8, dtype=object
    )
    vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=5)
    vectorize.adapt(texts)
    x = keras.Input((), dtype="string")
    e = L.Embedding(20, 8)(vectorize(x))
    h = L.Dense(8, activation="relu")(L.GlobalAveragePooling1D()(e))
    model = keras.Model(x, L.Dense(2)(h))
    compress(model, texts)


def test_wide_and_deep_with_dict_inputs_in_another_order():
    keras.utils.set_random_seed(0)
    wide = keras.Input((4,), name="wide")
    deep = keras.Input((6,), name="deep")
    h = L.Dense(16, activation="relu", name="deep_1")(deep)
    h = L.Dense(8, activation="relu", name="deep_2")(h)
    y = L.Dense(1, name="score")(L.Concatenate()([wide, h]))
    model = shaped(keras.Model({"wide": wide, "deep": deep}, y))
    data = {"deep": f.data(d=6), "wide": f.data(d=4, seed=5) + 10}
    small, report = compress(model, data)
    assert report.folded.any()
    assert [t.name for t in small.inputs] == [t.name for t in model.inputs]
    again = small.predict({"wide": data["wide"], "deep": data["deep"]}, verbose=0)
    f.assert_close(again, model.predict(data, verbose=0))


def test_input_and_output_names_are_kept():
    x = keras.Input((6,), name="features")
    h = L.Dense(8, activation="relu", name="hidden")(x)
    out = {"logits": L.Dense(3, name="logits")(h), "score": L.Dense(1, name="score")(h)}
    model = shaped(keras.Model(x, out))
    small, report = compress(model, f.data(), layer_threshold=0)
    assert report.folded.any()
    assert [t.name for t in small.inputs] == [t.name for t in model.inputs]
    assert small.output_names == model.output_names
    assert set(small.predict(f.data(4), verbose=0)) == {"logits", "score"}


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_models(policy):
    keras.config.set_dtype_policy(policy)
    try:
        x = keras.Input((6,))
        h = L.Dense(16, activation="relu", name="h")(x)
        model = shaped(keras.Model(x, L.Dense(2, dtype="float32")(h)))
        small, _ = linprune.apply(model, f.data(), verbose=0)
        f.assert_close(
            small.predict(f.data(), verbose=0),
            model.predict(f.data(), verbose=0),
            atol=5e-2,
        )
        assert small.get_layer("h").dtype_policy.name == policy
    finally:
        keras.config.set_dtype_policy("float32")


def test_no_layer_is_shared_even_when_nothing_folds():
    model = f.mlp()
    small, report = compress(model, f.data())
    assert [layer.name for layer in small.layers] == [
        layer.name for layer in model.layers
    ]


def test_loaded_sequential_keeps_names_and_comes_back_sequential(tmp_path):
    model = f.shape_biases(f.mlp(sequential=True), on=0.0, dead=0.3)  # dead only
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    small, report = compress(loaded, f.data())
    assert report.site.tolist() == ["d0", "d1", "d2"]  # the user's names
    assert report.layer.tolist() == ["d0", "d1", "d2"]
    assert isinstance(small, keras.Sequential)
    assert [layer.name for layer in small.layers][-1] == "out"


def test_sequential_that_gains_a_shortcut_comes_back_functional():
    model = shaped(f.mlp(sequential=True))
    small, report = compress(model, f.data(), layer_threshold=0)
    assert report.folded.any()
    assert not isinstance(small, keras.Sequential)
    assert small.output_names == ["out"]
