"""The demo's data and model (the full run is `tests/cli/demo_test.py`)."""

from keras_linprune.examples import demo


def test_digits_split_is_stratified_and_scaled():
    x_tr, y_tr, x_te, y_te = demo.load_digits_split()
    assert x_tr.shape[1] == 64 and len(x_te) / (len(x_tr) + len(x_te)) > 0.29
    assert 0.0 <= x_tr.min() and x_tr.max() <= 1.0
    assert set(y_te.tolist()) == set(range(10))


def test_the_mlp_has_the_papers_widths():
    model = demo.build_mlp(64, 10)
    widths = [layer.units for layer in model.layers[1:]]
    assert widths == [64, 128, 128, 256, 256, 10] and model.compiled
