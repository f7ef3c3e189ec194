import numpy as np
import pytest

from keras_linprune.core import algebra


def relu(z):
    return np.maximum(z, 0)


def random_site(rng, n_in=5, n_hidden=7, n_out=4):
    w_p = rng.normal(size=(n_in, n_hidden))
    b_p = rng.normal(size=n_hidden)
    w_c = rng.normal(size=(n_hidden, n_out))
    b_c = rng.normal(size=n_out)
    return w_p, b_p, w_c, b_c


def evaluate(affine, inputs):
    z = sum(inputs[k] @ m for k, m in affine.terms.items())
    return z + (0 if affine.bias is None else affine.bias)


def test_fold_equals_original_where_folded_neurons_are_active():
    rng = np.random.default_rng(0)
    w_p, b_p, w_c, b_c = random_site(rng)
    linear, dead, keep = [0, 3], [5], [1, 2, 4, 6]
    b_p[linear] = 100.0  # always active
    b_p[dead] = -100.0  # never active
    x = rng.normal(size=(50, 5))
    expected = relu(x @ w_p + b_p) @ w_c + b_c

    p, (c,) = algebra.fold_site(
        algebra.Affine({"x": w_p}, b_p),
        [algebra.Affine({"h": w_c}, b_c)],
        "h",
        linear=linear,
        keep=keep,
    )
    h = relu(evaluate(p, {"x": x}))
    got = evaluate(c, {"x": x, "h": h})
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert p.units == 4 and c.terms["h"].shape == (4, 4)
    assert c.terms["x"].shape == (5, 4)


def test_every_neuron_folded_keeps_biases():
    # The prototype loses the consumer bias in this case (docs/method.md, 10).
    rng = np.random.default_rng(1)
    w_p, b_p, w_c, b_c = random_site(rng)
    p, (c,) = algebra.fold_site(
        algebra.Affine({"x": w_p}, b_p),
        [algebra.Affine({"h": w_c}, b_c)],
        "h",
        linear=range(7),
        keep=[],
    )
    assert p is None and list(c.terms) == ["x"]
    x = rng.normal(size=(3, 5))
    np.testing.assert_allclose(
        evaluate(c, {"x": x}), (x @ w_p + b_p) @ w_c + b_c, atol=1e-9
    )


def test_chain_of_three_folds_composes_and_merges_shared_sources():
    rng = np.random.default_rng(2)
    sizes = [4, 6, 5, 7, 3]
    ws = [rng.normal(size=(a, b)) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.normal(size=b) for b in sizes[1:]]
    linear = [[0, 2], [1, 3], [0, 1, 2]]
    for b, j in zip(bs, linear):
        b[j] = 80.0
    x = rng.normal(size=(40, 4))
    h = x
    for w, b in zip(ws[:-1], bs[:-1]):
        h = relu(h @ w + b)
    expected = h @ ws[-1] + bs[-1]

    keys = ["x", "h0", "h1", "h2"]
    affines = [algebra.Affine({k: w}, b) for k, w, b in zip(keys, ws, bs)]
    for i, j in enumerate(linear):
        keep = np.setdiff1d(np.arange(sizes[i + 1]), j)
        p, (c,) = algebra.fold_site(
            affines[i], [affines[i + 1]], keys[i + 1], linear=j, keep=keep
        )
        affines[i], affines[i + 1] = p, c
    acts = {"x": x}
    for i, a in enumerate(affines[:-1]):
        acts[keys[i + 1]] = relu(evaluate(a, acts))
    np.testing.assert_allclose(evaluate(affines[-1], acts), expected, atol=1e-8)
    # The last layer reads h2 (kept part) plus one merged matrix per source.
    assert list(affines[-1].terms) == ["h2", "h1", "h0", "x"]


def test_fold_into_two_consumers_gives_each_its_shortcut():
    rng = np.random.default_rng(3)
    w_p, b_p, w_c, b_c = random_site(rng)
    w_d = rng.normal(size=(7, 2))
    b_p[[1, 4]] = 90.0
    keep = [0, 2, 3, 5, 6]
    p, (c, d) = algebra.fold_site(
        algebra.Affine({"x": w_p}, b_p),
        [algebra.Affine({"h": w_c}, b_c), algebra.Affine({"h": w_d}, None)],
        "h",
        linear=[1, 4],
        keep=keep,
    )
    x = rng.normal(size=(20, 5))
    h = relu(evaluate(p, {"x": x}))
    full = relu(x @ w_p + b_p)
    np.testing.assert_allclose(
        evaluate(c, {"x": x, "h": h}), full @ w_c + b_c, atol=1e-9
    )
    np.testing.assert_allclose(evaluate(d, {"x": x, "h": h}), full @ w_d, atol=1e-9)
    assert d.bias is not None  # gained the folded producer bias


def test_no_bias_anywhere_stays_bias_free():
    rng = np.random.default_rng(4)
    w_p, _, w_c, _ = random_site(rng)
    _, (c,) = algebra.fold_site(
        algebra.Affine({"x": w_p}),
        [algebra.Affine({"h": w_c})],
        "h",
        linear=[0],
        keep=[1, 2, 3, 4, 5, 6],
    )
    assert c.bias is None


@pytest.mark.parametrize(
    "n_linear,n_in,n_out", [(0, 3, 3), (5, 10, 2), (64, 784, 1024)]
)
def test_prototype_saving_matches_parameter_difference(n_linear, n_in, n_out):
    width = 70
    before = (n_in + 1) * width + (width + 1) * n_out
    after = (n_in + 1) * (width - n_linear) + (width - n_linear + 1) * n_out
    after += n_in * n_out
    assert algebra.prototype_saving(n_linear, n_in, n_out) == before - after


@pytest.mark.parametrize(
    "shape,rank", [((30, 20), 4), ((3, 3, 8, 12), 5), ((10, 10), 10)]
)
def test_low_rank_factors_reproduce_a_low_rank_kernel(shape, rank):
    rng = np.random.default_rng(0)
    rows = int(np.prod(shape[:-1]))
    kernel = (
        rng.normal(size=(rows, rank)) @ rng.normal(size=(rank, shape[-1]))
    ).reshape(shape)
    down, up = algebra.low_rank_factors(kernel, rank)
    assert down.shape == (*shape[:-1], rank) and up.shape == (rank, shape[-1])
    np.testing.assert_allclose(
        down.reshape(rows, rank) @ up, kernel.reshape(rows, -1), atol=1e-9
    )
