import keras
import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f


def model_and_data(seed=0):
    """Hidden biases in (0.5, 2.5): most neurons are active on most, not
    all, rows (rates between about 0.7 and 1)."""
    model = f.mlp((8, 48, 40, 32, 4), seed=seed)
    rng = np.random.default_rng(seed)
    for layer in model.layers[1:-1]:
        k, b = layer.get_weights()
        layer.set_weights([k, rng.uniform(0.5, 2.5, b.shape).astype("float32")])
    return model, f.data(600, 8, seed=seed + 1)


def errors(small, model, x):
    return np.abs(small.predict(x, verbose=0) - model.predict(x, verbose=0))


def test_refit_equals_plain_fold_at_threshold_one():
    model, x = model_and_data()
    plain, r1 = linprune.apply(model, x, layer_threshold=0, verbose=0)
    fitted, r2 = linprune.apply(
        model, x, layer_threshold=0, refit=True, ridge=0.0, verbose=0
    )
    assert r2.attrs["refit"] and r1.linear.sum() > 0
    assert fitted.count_params() == plain.count_params()
    f.assert_close(fitted.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)


@pytest.mark.parametrize("threshold", [0.9, 0.7])
def test_refit_is_more_accurate_below_one(threshold):
    model, x = model_and_data()
    plain, r1 = linprune.apply(
        model, x, threshold=threshold, layer_threshold=0, refit=False, verbose=0
    )
    fitted, r2 = linprune.apply(
        model, x, threshold=threshold, layer_threshold=0, refit=True, verbose=0
    )
    assert fitted.count_params() == plain.count_params()
    assert r1.linear.sum() == r2.linear.sum() > 0
    assert (errors(fitted, model, x) ** 2).mean() < (
        errors(plain, model, x) ** 2
    ).mean()


def conv_model(conv, kernel, inner, seed=0, **geometry):
    """`conv -> relu -> 1x1 conv -> relu -> 1x1 conv`: the first site folds
    into a pointwise consumer; the second, when the first folds too, has
    a term of the first conv's geometry. Biases make most neurons active
    on most rows."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input(inner)
    h = conv(12, kernel, activation="relu", name="c0", **geometry)(inp)
    h = conv(10, 1, activation="relu", name="c1")(h)
    h = conv(3, 1, name="c2")(h)
    model = keras.Model(inp, keras.layers.Flatten()(h))
    rng = np.random.default_rng(seed)
    for name in ("c0", "c1"):
        layer = model.get_layer(name)
        k, b = layer.get_weights()
        layer.set_weights([k * 0.5, rng.uniform(0.3, 2.0, b.shape).astype("float32")])
    x = rng.normal(size=(96, *inner)).astype("float32")
    return model, x


CONVS = {
    "conv2d_same": (keras.layers.Conv2D, 3, (7, 7, 3), {"padding": "same"}),
    "conv2d_strided": (keras.layers.Conv2D, 3, (9, 9, 2), {"strides": 2}),
    "conv1d_dilated": (
        keras.layers.Conv1D,
        3,
        (12, 3),
        {"dilation_rate": 2, "padding": "causal"},
    ),
    "conv3d": (keras.layers.Conv3D, 2, (4, 4, 4, 2), {}),
}


@pytest.mark.parametrize("case", sorted(CONVS))
def test_conv_refit_equals_plain_fold_at_threshold_one(case):
    conv, kernel, inner, geometry = CONVS[case]
    model, x = conv_model(conv, kernel, inner, **geometry)
    plain, r1 = linprune.apply(model, x, layer_threshold=0, verbose=0)
    fitted, r2 = linprune.apply(
        model, x, layer_threshold=0, refit=True, ridge=0.0, verbose=0
    )
    assert r1.linear.sum() > 0 and "refit_skipped" not in r2.attrs
    assert fitted.count_params() == plain.count_params()
    f.assert_close(fitted.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)
    f.assert_close(fitted(x), model(x), atol=1e-4)


@pytest.mark.parametrize("case", ["conv2d_same", "conv1d_dilated"])
def test_conv_refit_is_more_accurate_below_one(case):
    conv, kernel, inner, geometry = CONVS[case]
    model, x = conv_model(conv, kernel, inner, **geometry)
    options = dict(threshold=0.8, layer_threshold=0, verbose=0)
    plain, r1 = linprune.apply(model, x, refit=False, **options)
    fitted, r2 = linprune.apply(model, x, refit=True, **options)
    assert set(r1.site[r1.linear > 0]) == {"c0", "c1"}
    assert fitted.count_params() == plain.count_params()
    assert (errors(fitted, model, x) ** 2).mean() < (
        errors(plain, model, x) ** 2
    ).mean()


def test_refit_of_a_dense_reading_a_flatten():
    """The Dense's term has one tap per position: the fit reads the
    flattened input (this used to fail with a reshape error)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 5, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="c")(inp)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(24, activation="relu", name="d")(h)
    model = keras.Model(inp, keras.layers.Dense(30, name="out")(h))
    layer = model.get_layer("d")
    k, b = layer.get_weights()
    rng = np.random.default_rng(0)
    layer.set_weights([k, rng.uniform(0.5, 2.5, b.shape).astype("float32")])
    x = rng.normal(size=(400, 5, 5, 3)).astype("float32")
    exact, r = linprune.apply(
        model, x, layer_threshold=0, refit=True, ridge=0.0, verbose=0
    )
    assert r.set_index("site").linear["d"] > 0 and "refit_skipped" not in r.attrs
    f.assert_close(exact.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)
    options = dict(threshold=0.8, layer_threshold=0, verbose=0)
    plain, _ = linprune.apply(model, x, refit=False, **options)
    fitted, _ = linprune.apply(model, x, refit=True, **options)
    assert (errors(fitted, model, x) ** 2).mean() < (
        errors(plain, model, x) ** 2
    ).mean()


def test_refit_skips_transposed_convolutions_and_shared_layers_and_says_so():
    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 5, 2))
    h = keras.layers.Conv2DTranspose(8, 3, activation="relu", name="t")(inp)
    h = keras.layers.Conv2D(6, 1, name="p")(h)
    shared = keras.layers.Dense(8, activation="relu", name="s")
    out = keras.layers.Dense(2, name="o")
    v = keras.Input((4,))
    model = keras.Model(
        [inp, v], [keras.layers.Flatten()(h), out(shared(v)), out(shared(v * 2.0))]
    )
    for name in ("t", "s"):
        layer = model.get_layer(name)
        k, b = layer.get_weights()
        layer.set_weights([k * 0.05, np.full_like(b, 5.0)])
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(32, 5, 5, 2)), rng.normal(size=(32, 4))]
    x = [a.astype("float32") for a in x]
    small, report = linprune.apply(model, x, layer_threshold=0, refit=True, verbose=0)
    assert report.attrs["refit_skipped"] == {
        "t": "a Conv2DTranspose term",
        "s": "shared layer",
    }
    for a, b in zip(small.predict(x, verbose=0), model.predict(x, verbose=0)):
        f.assert_close(a, b, atol=1e-5)


def test_refit_needs_data_and_a_valid_ridge():
    model, x = model_and_data()
    stats = linprune.measure(model, x, verbose=0)
    with pytest.raises(
        ValueError, match="calibration data, or statistics measured with `moments=True`"
    ):
        linprune.apply(model, stats, refit=True)
    with pytest.raises(ValueError, match="without second moments"):
        linprune.sweep(model, stats, refit=True, verbose=0)
    with pytest.raises(ValueError, match="ridge"):
        linprune.apply(model, x, refit=True, ridge=-1.0)
    with pytest.raises(ValueError, match="Received: refit='yes'"):
        linprune.apply(model, x, refit="yes")


def test_refit_through_a_concatenate_with_the_input():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((8,))
    a = keras.layers.Dense(24, activation="relu", name="a")(x_in)
    h = keras.layers.Concatenate()([a, x_in])
    h = keras.layers.Dense(16, activation="relu", name="b")(h)
    model = keras.Model(x_in, keras.layers.Dense(3, name="out")(h))
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        layer = model.get_layer(name)
        k, b = layer.get_weights()
        layer.set_weights([k, rng.uniform(0.5, 2.5, b.shape).astype("float32")])
    x = f.data(500, 8)
    exact, _ = linprune.apply(
        model, x, layer_threshold=0, refit=True, ridge=0.0, verbose=0
    )
    f.assert_close(exact.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)
    plain, _ = linprune.apply(
        model, x, threshold=0.8, layer_threshold=0, refit=False, verbose=0
    )
    fitted, _ = linprune.apply(
        model, x, threshold=0.8, layer_threshold=0, refit=True, verbose=0
    )
    assert (errors(fitted, model, x) ** 2).mean() < (
        errors(plain, model, x) ** 2
    ).mean()


class CountingBatches(keras.utils.PyDataset):
    """Calibration batches that count how often they are read."""

    def __init__(self, x, batch=100):
        super().__init__()
        self.x, self.batch, self.reads = x, batch, 0

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, i):
        self.reads += 1
        return self.x[i * self.batch : (i + 1) * self.batch]


REFIT_MODELS = {
    "mlp": model_and_data,
    "conv_chain": lambda: conv_model(*CONVS["conv2d_same"][:3], padding="same"),
    "conv1d_causal": lambda: conv_model(
        *CONVS["conv1d_dilated"][:3], **CONVS["conv1d_dilated"][3]
    ),
}


@pytest.mark.parametrize("name", sorted(REFIT_MODELS))
@pytest.mark.parametrize("threshold", [1.0, 0.8])
def test_refit_from_moments_equals_refit_from_data(name, threshold):
    model, x = REFIT_MODELS[name]()
    stats = linprune.measure(model, x, moments=True, verbose=0)
    options = dict(threshold=threshold, layer_threshold=0, refit=True, verbose=0)
    from_data, r1 = linprune.apply(model, x, **options)
    from_stats, r2 = linprune.apply(model, stats, **options)
    assert r1.linear.sum() > 0 and r2.attrs["refit"]
    assert from_stats.count_params() == from_data.count_params()
    f.assert_close(
        from_stats.predict(x, verbose=0), from_data.predict(x, verbose=0), atol=1e-5
    )


def guarded_refit(model, data, eval_data):
    """`apply` with refit under a metric guard (mse within 0.05)."""
    return linprune.apply(
        model,
        data,
        max_metric_drop=0.05,
        eval_data=eval_data,
        metric="mse",
        refit=True,
        verbose=0,
    )


def test_refit_from_moments_reads_no_data():
    """A size target and a guard refit from the statistics; a sweep with
    refit reads the data once, in its measuring pass."""
    model, x = model_and_data()
    batches = CountingBatches(x)
    stats = linprune.measure(model, batches, moments=True, verbose=0)
    one_pass = batches.reads  # each batch, and the first once more (checks)
    assert len(batches) <= one_pass <= len(batches) + 1
    small, report = linprune.apply(model, stats, target_size=0.6, refit=True, verbose=0)
    assert report.attrs["refit"] and small.count_params() <= 0.6 * model.count_params()
    y = model.predict(x, verbose=0)
    guarded_refit(model, stats, (x, y))
    assert batches.reads == one_pass
    table = linprune.sweep(
        model,
        batches,
        thresholds=[0.7, 0.9],
        metrics=["mse"],
        eval_data=(x, y),
        refit=True,
        verbose=0,
    )
    assert batches.reads == 2 * one_pass and table.attrs["refit"]
    for row in table.itertuples():
        alone, _ = linprune.apply(
            model, x, threshold=row.threshold, refit=True, verbose=0
        )
        assert alone.count_params() == row.total_params
        mse = float(np.mean((alone.predict(x, verbose=0) - y) ** 2))
        assert mse == pytest.approx(row.mse, rel=1e-4, abs=1e-7)


def test_a_guard_with_refit_measures_moments_in_its_one_pass():
    model, x = model_and_data()
    batches = CountingBatches(x)
    small, report = guarded_refit(model, batches, (x, model.predict(x, verbose=0)))
    measured = CountingBatches(x)
    linprune.measure(model, measured, verbose=0)
    assert batches.reads == measured.reads and report.attrs["refit"]
    assert small.count_params() < model.count_params()


def test_moments_leave_out_only_the_terms_refit_cannot_read():
    """`p` would read a transposed convolution's term if `t` folded into it;
    where `t` does not fold, `p` is refitted from the statistics' moments,
    which hold its other features."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 5, 2))
    h = keras.layers.Conv2DTranspose(8, 3, activation="relu", name="t")(inp)
    h = keras.layers.Conv2D(10, 1, activation="relu", name="p")(h)
    model = keras.Model(inp, keras.layers.Conv2D(6, 1, name="q")(h))
    rng = np.random.default_rng(0)
    k, b = model.get_layer("t").get_weights()
    model.get_layer("t").set_weights([k, np.zeros_like(b)])  # about half active
    k, b = model.get_layer("p").get_weights()
    model.get_layer("p").set_weights([k * 0.2, rng.uniform(1.0, 2.0, b.shape)])
    x = rng.normal(size=(64, 5, 5, 2)).astype("float32")
    stats = linprune.measure(model, x, moments=True, verbose=0)
    assert set(stats.moments) == {"p"}  # t reads its input transposed
    options = dict(threshold=0.9, layer_threshold=0, refit=True, verbose=0)
    from_stats, report = linprune.apply(model, stats, **options)
    from_data, _ = linprune.apply(model, x, **options)
    folded = report.set_index("site").linear
    assert folded["p"] > 0 and folded["t"] == 0
    assert report.attrs.get("refit_skipped", {}) == {}
    f.assert_close(
        from_stats.predict(x, verbose=0), from_data.predict(x, verbose=0), atol=1e-5
    )
