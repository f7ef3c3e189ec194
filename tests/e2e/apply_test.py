import keras
import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f


def predict(model, x):
    return model.predict(x, verbose=0, batch_size=1024)


@pytest.mark.parametrize("style", ["inline", "layer", "activation"])
@pytest.mark.parametrize("sequential", [False, True])
def test_exact_on_calibration_data(style, sequential):
    model = f.shape_biases(f.mlp(style=style, sequential=sequential, dropout=True))
    x = f.data()
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    f.assert_close(predict(small, x), predict(model, x), atol=1e-5)
    assert report["linear"].sum() > 0 and report["dead"].sum() > 0
    assert small.count_params() == report.attrs["params_after"]
    assert small.count_params() < model.count_params()


@pytest.mark.parametrize("rule", ["optimal", 0, 0.1])
def test_chain_of_three_folded_sites_is_exact(rule):
    model = f.shape_biases(f.mlp((6, 32, 48, 40, 5)), on=0.6, dead=0.1)
    x = f.data(512)
    small, report = linprune.apply(model, x, layer_threshold=rule, verbose=0)
    folded = report[report.folded]
    assert len(folded) == 3, report
    f.assert_close(predict(small, x), predict(model, x), atol=1e-5)
    # Every layer that received folds is one Dense over its sources, each
    # read once: no Add, no separate shortcut layers.
    types = {type(layer).__name__ for layer in small.layers}
    assert "Add" not in types and types <= {"InputLayer", "Dense", "Concatenate"}
    for layer in small.layers:
        if isinstance(layer, keras.layers.Concatenate):
            sources = [id(t) for t in layer.input]
            assert len(set(sources)) == len(sources)


def test_provably_linear_model_is_exact_on_fresh_inputs():
    model = f.provably_linear(f.mlp((6, 16, 24, 3)))
    small, report = linprune.apply(model, f.data(64, low=0.0), verbose=0)
    assert report["units_after"].tolist()[:2] == [0, 0]  # all folded
    fresh = f.data(300, seed=7, low=0.0) * 5
    f.assert_close(predict(small, fresh), predict(model, fresh), atol=1e-5)
    # Every hidden layer disappeared: one affine map from input to output.
    assert small.count_params() == (6 + 1) * 3


def test_input_model_is_not_modified():
    model = f.shape_biases(f.mlp())
    x = f.data()
    before_w, before_y = f.weights_of(model), predict(model, x)
    n_layers = len(model.layers)
    small, _ = linprune.apply(model, x, layer_threshold=0, verbose=0)
    small.set_weights([w * 0 for w in small.get_weights()])  # no sharing
    for a, b in zip(before_w, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(before_y, predict(model, x))
    assert len(model.layers) == n_layers
    assert not set(map(id, small.weights)) & set(map(id, model.weights))


def test_apply_with_stats_equals_apply_with_data():
    model = f.shape_biases(f.mlp())
    x = f.data()
    stats = linprune.measure(model, x, verbose=0)
    a, ra = linprune.apply(model, stats, threshold=0.9, verbose=0)
    b, rb = linprune.apply(model, x, threshold=0.9, verbose=0)
    assert a.count_params() == b.count_params()
    np.testing.assert_allclose(predict(a, x), predict(b, x), atol=1e-6)
    assert ra.drop(columns="reason").equals(rb.drop(columns="reason"))


def test_lower_threshold_folds_more_and_approximates():
    model = f.shape_biases(f.mlp((6, 32, 32, 3)), on=0.3, dead=0.0)
    x = f.data(400)
    counts = []
    for t in [1.0, 0.8, 0.5]:
        small, report = linprune.apply(
            model, x, threshold=t, layer_threshold=0, verbose=0
        )
        counts.append(report["linear"].sum())
        assert small.count_params() == report.attrs["params_after"]
    assert counts[0] <= counts[1] <= counts[2] and counts[2] > counts[0]


def test_remove_dead_false_keeps_dead_neurons():
    model = f.shape_biases(f.mlp(), on=0.0, dead=0.4)
    x = f.data()
    _, report = linprune.apply(model, x, remove_dead=False, verbose=0)
    assert report["dead"].sum() == 0
    small, report = linprune.apply(model, x, verbose=0)
    assert report["dead"].sum() > 0
    f.assert_close(predict(small, x), predict(model, x), atol=1e-5)


def test_model_without_fold_site_returns_equivalent_copy():
    x_in = keras.Input((6,))
    y = keras.layers.Dense(4, activation="tanh", name="h")(x_in)
    y = keras.layers.Dense(2, name="o")(y)
    model = keras.Model(x_in, y)
    x = f.data()
    small, report = linprune.apply(model, x, verbose=0)
    np.testing.assert_allclose(predict(small, x), predict(model, x), atol=1e-6)
    assert small is not model and small.count_params() == model.count_params()
    assert "not piecewise linear" in report.loc[0, "reason"]
    assert "nothing was folded" in report.attrs["note"]
    assert "piecewise-linear activation" in report.attrs["note"]
    assert "nothing was folded" in linprune.summary(report)


def test_unsupported_layers_are_copied_and_named():
    x_in = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu", name="d0")(x_in)
    h = keras.layers.Dense(8, activation="relu", name="d1")(h)
    y = keras.layers.LayerNormalization(name="norm")(h)
    y = keras.layers.Dense(2, name="o")(y)
    model = f.shape_biases(keras.Model(x_in, y))
    x = f.data()
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    f.assert_close(predict(small, x), predict(model, x), atol=1e-5)
    row = report.set_index("site").loc["d1"]
    assert not row.folded and "consumer 'norm'" in row.reason
    assert "norm (LayerNormalization)" in report.attrs["unchanged_layers"]


def test_output_names_and_compile_config_survive():
    model = f.shape_biases(f.mlp(output_activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = f.data()
    small, _ = linprune.apply(model, x, layer_threshold=0, verbose=0)
    assert small.output_names == model.output_names == ["out"]
    assert small.compiled
    y = np.argmax(predict(model, x), axis=1)
    a = model.evaluate(x, y, verbose=0)
    b = small.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_site_with_two_dense_consumers():
    x_in = keras.Input((6,))
    h = keras.layers.Dense(24, activation="relu", name="h")(x_in)
    a = keras.layers.Dense(3, name="a")(h)
    b = keras.layers.Dense(2, name="b")(keras.layers.Dropout(0.1)(h))
    model = f.shape_biases(keras.Model(x_in, [a, b]), on=0.7)
    x = f.data()
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    assert report.loc[0, "consumers"] == "a, b" and report.loc[0, "folded"]
    for got, want in zip(small.predict(x, verbose=0), model.predict(x, verbose=0)):
        f.assert_close(got, want, atol=1e-5)
    assert small.count_params() == report.attrs["params_after"]


def siamese(shared_consumer=True):
    """One Dense/ReLU tower applied to two inputs."""
    keras.utils.set_random_seed(0)
    x1, x2 = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    p = keras.layers.Dense(24, activation="relu", name="p")
    if shared_consumer:
        c = keras.layers.Dense(8, activation="relu", name="c")
        h1, h2 = c(p(x1)), c(p(x2))
    else:
        h1 = keras.layers.Dense(8, activation="relu", name="c1")(p(x1))
        h2 = keras.layers.Dense(8, activation="relu", name="c2")(p(x2))
    y = keras.layers.Dense(2, name="out")(keras.layers.Add()([h1, h2]))
    return keras.Model([x1, x2], y)


@pytest.mark.parametrize("shared_consumer", [True, False])
def test_shared_layers_fold_at_every_call(shared_consumer):
    model = f.shape_biases(siamese(shared_consumer), on=0.5, dead=0.2)
    x = [f.data(), f.data(seed=3)]
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert small.count_params() == report.attrs["params_after"]
    row = report.set_index("site").loc["p"]
    assert row.folded and row.linear > 0 and row.dead > 0
    # Still one layer per original shared layer, called at both inputs.
    assert len(small.get_layer("p")._inbound_nodes) == 2
    # Each consumer reads [kept neurons, the shortcut's source] in one layer.
    joins = [layer for layer in small.layers if layer.name.endswith("_inputs")]
    assert joins and not any("shortcut" in layer.name for layer in small.layers)
    if shared_consumer:
        assert [layer.name for layer in joins] == ["c_inputs"]
        assert len(joins[0]._inbound_nodes) == 2
        assert len(small.get_layer("c")._inbound_nodes) == 2


def test_shared_layer_folds_only_neurons_linear_at_every_call():
    keras.utils.set_random_seed(0)
    x1, x2 = keras.Input((6,)), keras.Input((6,))
    p = keras.layers.Dense(16, activation="relu", name="p")
    c = keras.layers.Dense(4, name="c")
    model = keras.Model([x1, x2], keras.layers.Add()([c(p(x1)), c(p(x2))]))
    k, b = p.get_weights()
    p.set_weights([np.abs(k), np.zeros_like(b) + 0.1])  # > 0 on positive x
    pos = f.data(200, low=0.0)
    stats = linprune.measure(model, [pos, pos], verbose=0)
    assert stats.piece_counts["p"].shape == (2, 2, 16)
    assert (stats.piece_rates["p"][1] == 1).all()
    # At the second call some inputs are negative: neurons are not linear
    # there, so nothing folds although the first call would allow it.
    mixed = [pos, f.data(200, seed=5)]
    stats = linprune.measure(model, mixed, verbose=0)
    assert stats.rates["p"].min() < 1.0
    small, report = linprune.apply(model, stats, layer_threshold=0)
    linear_both = np.count_nonzero(stats.piece_rates["p"][1] >= 1.0)
    assert report.linear.iloc[0] == linear_both < 16
    f.assert_close(
        small.predict(mixed, verbose=0), model.predict(mixed, verbose=0), atol=1e-5
    )


def test_consumer_shared_with_another_input_is_refused():
    keras.utils.set_random_seed(0)
    x1, x2 = keras.Input((6,)), keras.Input((8,))
    c = keras.layers.Dense(4, name="c")
    h = keras.layers.Dense(8, activation="relu", name="p")(x1)
    model = keras.Model([x1, x2], keras.layers.Add()([c(h), c(x2)]))
    x = [f.data(), f.data(d=8, seed=2)]
    small, report = linprune.apply(model, x, verbose=0)
    assert (
        "consumer 'c' is shared with inputs other than 'p'" in (report.reason.iloc[0])
    )
    np.testing.assert_allclose(
        small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


def test_dense_on_sequences_folds_per_position():
    x_in = keras.Input((5, 6))
    h = keras.layers.Dense(16, activation="relu", name="ffn_in")(x_in)
    y = keras.layers.Dense(6, name="ffn_out")(h)
    model = f.shape_biases(keras.Model(x_in, y))
    x = np.random.default_rng(0).normal(size=(64, 5, 6)).astype("float32")
    stats = linprune.measure(model, x, verbose=0)
    assert stats.observations["ffn_in"] == 64 * 5
    small, report = linprune.apply(model, stats, layer_threshold=0, verbose=0)
    assert report.loc[0, "folded"]
    f.assert_close(predict(small, x), predict(model, x), atol=1e-5)


def test_nested_submodels_are_folded_and_stay_nested():
    inner = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="up"),
            keras.layers.Dense(8, name="down"),
        ],
        name="block",
    )
    x_in = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="d0")(x_in)
    h = keras.layers.Dense(8, activation="relu", name="d1")(h)
    y = {"head": keras.layers.Dense(2, name="head")(inner(h))}
    model = f.shape_biases(keras.Model(x_in, y), on=0.5, dead=0.2)
    before = f.weights_of(model)
    x = f.data()
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    got, want = small.predict(x, verbose=0), model.predict(x, verbose=0)
    assert set(got) == {"head"}
    f.assert_close(got["head"], want["head"], atol=1e-5)
    f.assert_close(small(x)["head"], want["head"], atol=1e-5)  # eagerly too
    rows = report.set_index("site")
    assert rows.loc["d1", "consumers"] == "block.up"
    assert rows.loc["block.up", "consumers"] == "block.down"
    assert rows.folded.all()
    assert [layer.name for layer in small.layers[1:]] == ["d0", "block", "head"]
    block = small.get_layer("block")
    # d1 folded into block.up, whose neurons folded into block.down: the
    # shortcut from d0's input enters the block as an extra input.
    assert len(block.inputs) == 2
    assert isinstance(block.get_layer("down"), keras.layers.Dense)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert isinstance(model.get_layer("block"), keras.Sequential)


def test_nested_model_called_twice_is_copied_whole():
    inner = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4, activation="tanh")],
        name="shared_block",
    )
    a, b = keras.Input((6,)), keras.Input((6,))
    y = keras.layers.Add()([inner(a), inner(b)])
    model = keras.Model([a, b], y)
    x = [f.data(), f.data(seed=4)]
    small, report = linprune.apply(model, x, verbose=0)
    np.testing.assert_allclose(
        small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    assert "shared_block (Sequential)" in report.attrs["unchanged_layers"]


@pytest.mark.parametrize("shortcut", ["auto", "dense"])
def test_low_rank_shortcuts_are_exact_and_smaller(shortcut):
    model = f.shape_biases(f.mlp((40, 64, 64, 30)), on=0.06, dead=0.0)
    x = f.data(500, 40)
    small, report = linprune.apply(
        model, x, layer_threshold=0, shortcut=shortcut, verbose=0
    )
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert small.count_params() == report.attrs["params_after"]
    downs = [layer for layer in small.layers if layer.name.endswith("_down")]
    if shortcut == "auto":
        forms = report.shortcut_form
        assert downs and (forms.str.startswith("low-rank") | (forms == "mixed")).any()
        dense, _ = linprune.apply(
            model, x, layer_threshold=0, shortcut="dense", verbose=0
        )
        assert small.count_params() < dense.count_params()
    else:
        assert not downs and set(report.shortcut_form[report.folded]) == {"dense"}


def test_bad_shortcut_option():
    with pytest.raises(ValueError, match="shortcut.*'auto', 'dense'"):
        linprune.apply(f.mlp(), f.data(), shortcut="svd")


class _Scale(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.s = self.add_weight(shape=(), initializer="ones")

    def call(self, x):
        return x * self.s


class _NoConfig(keras.layers.Layer):
    """Its constructor takes a function, which Keras cannot record in a
    config: the layer cannot be re-created (a layer whose `__init__` only
    lacks `**kwargs` can, `tests/graph/copier_test.py`)."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def call(self, x):
        return self.scale(x)


def test_custom_layer_without_config_is_refused_with_the_fix():
    x_in = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="d0")(x_in)
    h = _NoConfig(lambda t: t * 3.0)(h)
    model = keras.Model(x_in, keras.layers.Dense(2)(h))
    with pytest.raises(ValueError, match=r"'_*no_config' \(_NoConfig\).*get_config"):
        linprune.apply(model, f.data(), verbose=0)
    # Measuring builds no model, so it does not copy (or check) the layers;
    # apply on those statistics refuses before any work, like on data.
    stats = linprune.measure(model, f.data(), verbose=0)
    with pytest.raises(ValueError, match=r"\(_NoConfig\).*get_config"):
        linprune.apply(model, stats, verbose=0)


def test_lambda_and_custom_layers_pass_through():
    x_in = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="d0")(x_in)
    h = keras.layers.Lambda(lambda t: t * 2.0, name="double")(h)
    h = _Scale(name="scale")(h)
    h = keras.layers.Dense(8, activation="relu", name="d1")(h)
    model = f.shape_biases(keras.Model(x_in, keras.layers.Dense(2)(h)))
    x = f.data()
    small, report = linprune.apply(model, x, layer_threshold=0, verbose=0)
    f.assert_close(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    rows = report.set_index("site")
    assert "consumer 'double' (Lambda)" in rows.loc["d0", "reason"]
    assert rows.loc["d1", "folded"]
    assert small.get_layer("scale") is not model.get_layer("scale")
    assert small.get_layer("double") is not model.get_layer("double")


def test_sites_fold_through_a_concatenate():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((6,))
    a = keras.layers.Dense(16, activation="relu", name="a")(x_in)
    b = keras.layers.Dense(12, activation="relu", name="b")(x_in)
    b = keras.layers.Dropout(0.2)(b)
    merged = keras.layers.Concatenate(name="merge")([a, x_in, b])
    model = f.shape_biases(
        keras.Model(x_in, keras.layers.Dense(3, name="out")(merged)), on=0.5, dead=0.2
    )
    small, report = f.compress_exact(model, f.data())
    rows = report.set_index("site")
    assert rows.loc[["a", "b"], "folded"].all()
    assert rows.loc["a", "consumers"] == rows.loc["b", "consumers"] == "out"
    # "merge" is replaced by the join of out's inputs: the kept neurons of
    # a and b, and x_in once (the parts' own and the shortcuts' source).
    joins = [x for x in small.layers if isinstance(x, keras.layers.Concatenate)]
    assert [layer.name for layer in joins] == ["out_inputs"]
    assert len(joins[0].input) == 3


def test_conv_sites_fold_through_a_channel_concatenate():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((6, 6, 3))
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="a")(x_in)
    b = keras.layers.Conv2D(8, 1, activation="relu", name="b")(x_in)
    h = keras.layers.Concatenate(name="merge")([a, b])
    h = keras.layers.Conv2D(4, 1, name="mix")(h)
    model = keras.Model(x_in, keras.layers.GlobalAveragePooling2D()(h))
    for name in ("a", "b"):
        layer = model.get_layer(name)
        k, bias = layer.get_weights()
        layer.set_weights(
            [k * 0.05, np.where(np.arange(8) % 2, 50.0, -50.0).astype("float32")]
        )
    x = np.random.default_rng(0).normal(size=(32, 6, 6, 3)).astype("float32")
    small, report = f.compress_exact(model, x)
    assert report.folded.all() and report.linear.sum() == 8


@pytest.mark.parametrize("axis_or_reader", ["axis", "reader"])
def test_concatenate_that_cannot_be_folded_through(axis_or_reader):
    keras.utils.set_random_seed(0)
    x_in = keras.Input((4, 6))
    a = keras.layers.Dense(6, activation="relu", name="a")(x_in)
    if axis_or_reader == "axis":  # joins positions, not channels
        h = keras.layers.Concatenate(axis=1, name="merge")([a, x_in])
        y = keras.layers.Dense(2, name="out")(h)
        why = "does not join channels"
    else:  # also read by a layer that is not linear
        h = keras.layers.Concatenate(name="merge")([a, x_in])
        y = keras.layers.Add()([keras.layers.Dense(12, name="out")(h), h])
        why = "is not a Dense or Conv layer"
    model = f.shape_biases(keras.Model(x_in, y))
    x = np.random.default_rng(0).normal(size=(16, 4, 6)).astype("float32")
    small, report = linprune.apply(model, x, verbose=0)
    row = report.set_index("site").loc["a"]
    assert not row.folded and why in row.reason
    np.testing.assert_allclose(
        small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


def test_shared_reader_of_a_concatenate_is_refused():
    keras.utils.set_random_seed(0)
    x1, x2 = keras.Input((6,)), keras.Input((6,))
    p = keras.layers.Dense(8, activation="relu", name="p")
    c = keras.layers.Dense(4, name="c")
    y1 = c(keras.layers.Concatenate()([p(x1), x1]))
    y2 = c(keras.layers.Concatenate()([p(x2), x2]))
    model = f.shape_biases(keras.Model([x1, x2], keras.layers.Add()([y1, y2])))
    x = [f.data(), f.data(seed=2)]
    small, report = linprune.apply(model, x, verbose=0)
    assert "shared and reads a Concatenate" in report.reason.iloc[0]
    np.testing.assert_allclose(
        small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


def test_concatenate_reader_reads_its_parts_joined_again():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((6,))
    a = keras.layers.Dense(16, activation="relu", name="a")(x_in)
    merged = keras.layers.Concatenate(name="merge")([a, x_in])
    model = f.shape_biases(
        keras.Model(x_in, keras.layers.Dense(3, name="out")(merged)), on=0.0, dead=0.3
    )
    small, report = f.compress_exact(model, f.data())
    names = [layer.name for layer in small.layers]
    assert len(names) == len(model.layers)
    assert "out_inputs" in names and not any("shortcut" in n for n in names)


def test_submodels_nested_two_deep_keep_names_types_and_frozen_flags():
    """A Sequential inside a functional block inside the model: both stay
    submodels with their types, names and trainable flags, and the
    outer Sequential stays a Sequential."""
    inner = keras.Sequential(
        [keras.Input((12,)), keras.layers.Dense(24, activation="relu", name="up")],
        name="inner",
    )
    x = keras.Input((12,), name="block_in")
    h = keras.layers.Dense(12, activation="relu", name="pre")(x)
    block = keras.Model(x, keras.layers.Dense(6, name="proj")(inner(h)), name="block")
    block.get_layer("pre").trainable = False
    model = keras.Sequential(
        [keras.Input((12,)), block, keras.layers.Dense(3, name="out")], name="outer"
    )
    up = inner.get_layer("up")
    kernel, bias = up.get_weights()
    bias[::3] = -50.0  # a third of the inner neurons never active
    up.set_weights([kernel, bias])
    data = f.data(300, 12)

    small, report = linprune.apply(model, data, verbose=0)

    want = model.predict(data, verbose=0)
    f.assert_close(small.predict(data, verbose=0), want, atol=1e-5)
    f.assert_close(small(data), want, atol=1e-5)  # eagerly too
    assert isinstance(small, keras.Sequential)
    assert [layer.name for layer in small.layers] == ["block", "out"]
    small_block = small.get_layer("block")
    assert [layer.name for layer in small_block.layers] == [
        "block_in",
        "pre",
        "inner",
        "proj",
    ]
    assert isinstance(small_block.get_layer("inner"), keras.Sequential)
    assert not small_block.get_layer("pre").trainable
    assert small_block.get_layer("proj").trainable
    assert report.set_index("site").loc["block.inner.up", "dead"] > 0
    actions = report.linprune.layers().set_index("layer").action
    assert actions["block.inner.up"] == "narrowed"
    assert "added" not in set(actions)


def test_concatenate_reader_that_folds_onward_keeps_every_part():
    """A reader of a Concatenate whose parts are a site's activation and a
    plain tensor, itself a producer whose neurons fold into the next layer:
    the shortcut from the plain part used to be missing (KeyError in the
    rebuild; 1 in 150 random graphs)."""
    keras.utils.set_random_seed(0)
    x = keras.Input((6,))
    site = keras.layers.Dense(6, activation="relu", name="site")(x)
    plain = keras.layers.Dropout(0.1)(keras.layers.Dense(4, activation="tanh")(x))
    h = keras.layers.Concatenate()([plain, site])
    h = keras.layers.Dense(8, activation="relu", name="reader")(h)
    model = f.shape_biases(keras.Model(x, keras.layers.Dense(3, name="out")(h)))
    data = f.data()

    small, report = f.compress_exact(model, data)

    row = report.set_index("site").loc["reader"]
    assert row.folded and row.linear > 0
    f.assert_close(small(data), model(data), atol=1e-5)


def test_a_compression_raises_no_deprecation_warning():
    """Issue 20: NumPy 2 warned once per weight (392 times on this MLP) when
    the engine converted Keras variables."""
    import warnings

    model, x = f.shape_biases(f.mlp()), f.data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        small, _ = linprune.apply(model, x, threshold=0.9, verbose=0)
        linprune.apply(model, x, target_size=0.5, verbose=0)
    assert small.count_params() < model.count_params()
