import numpy as np
import pytest

import keras_linprune as linprune
from tests import factories as f


def model_and_data():
    model = f.mlp((8, 64, 48, 3), output_activation="softmax")
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = f.data(400, 8)
    y = np.argmax(model.predict(x, verbose=0), axis=1)
    return model, x, y


def test_one_round_removes_the_least_active_quantile():
    model, x, y = model_and_data()
    stats = linprune.measure(model, x, verbose=0)
    rates = np.concatenate(list(stats.rates.values()))
    cutoff = np.quantile(rates, 0.2)
    pruned, history = linprune.prune_by_activation(model, x, quantile=0.2)
    assert history.removed.iloc[0] == np.count_nonzero(rates <= cutoff)
    assert history.rate_cutoff.iloc[0] == pytest.approx(cutoff)
    widths = [layer.units for layer in pruned.layers[1:-1]]
    expected = [np.count_nonzero(stats.rates[k] > cutoff) for k in stats.sites]
    assert widths == expected
    assert pruned.count_params() == history.params.iloc[0]


def test_rounds_with_fine_tuning_then_fold():
    model, x, y = model_and_data()
    before = f.weights_of(model)
    pruned, history = linprune.prune_by_activation(
        model, x, quantile=0.1, rounds=2, fit_data=(x, y), epochs_per_round=1
    )
    assert len(history) == 2
    assert history.params.is_monotonic_decreasing
    small, report = linprune.apply(pruned, x, verbose=0)
    f.assert_close(small.predict(x, verbose=0), pruned.predict(x, verbose=0), atol=1e-5)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(quantile=0.0), "quantile"),
        (dict(quantile=1.0), "quantile"),
        (dict(rounds=0), "rounds"),
        (dict(epochs_per_round=1), "fit_data"),
    ],
)
def test_bad_prune_arguments(kwargs, match):
    model, x, y = model_and_data()
    with pytest.raises(ValueError, match=match):
        linprune.prune_by_activation(model, x, **kwargs)


def test_fine_tuning_needs_a_compiled_model():
    import keras

    model, x, y = model_and_data()
    bare = keras.Model(model.inputs, model.outputs)
    with pytest.raises(ValueError, match="compiled model"):
        linprune.prune_by_activation(bare, x, fit_data=(x, y), epochs_per_round=1)
