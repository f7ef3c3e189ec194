"""Recovery steps on any plan: the guard holds after `finetune` epochs, and
the model a policy scored is the model returned."""

import keras
import numpy as np
import pytest

import keras_linprune as linprune
from keras_linprune.analysis import analyse
from keras_linprune.options import Options
from keras_linprune.plan import planner
from keras_linprune.recovery import Recovery
from tests import factories as f


@pytest.fixture(scope="module")
def task():
    """A shaped MLP whose labels are its own argmax on calibration and
    validation rows (the guard's metric then starts at 1.0)."""
    model = f.shape_biases(f.mlp(), on=0.3, dead=0.1)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, x_val = f.data(400, seed=1), f.data(200, seed=2)
    y_val = np.argmax(model.predict(x_val, verbose=0), axis=1)
    return model, x, (x_val, y_val)


def test_a_plan_is_recovered_once_and_returned_as_scored(task):
    model, x, _ = task
    analysis = analyse(model)
    opts = Options(threshold=0.8, finetune=1)
    opts.check_against(model, x)
    stats = linprune.measure(model, x, verbose=0)
    plan = planner.make_plan(analysis.spec, stats.piece_rates, threshold=0.8)
    recovery = Recovery(analysis, x, opts, None)
    first, _, notes = recovery.model(plan)
    assert recovery.model(plan)[0] is first  # memoized
    assert notes["finetune_epochs"] >= 1
    assert first.count_params() == plan.params


def test_the_guard_holds_after_finetuning_for_the_model_returned(task):
    model, x, held = task
    small, report = linprune.apply(
        model, x, max_metric_drop=0.02, eval_data=held, finetune=2, verbose=0
    )
    assert report.attrs["finetune_epochs"] >= 1
    predicted = np.argmax(small.predict(held[0], verbose=0), axis=1)
    accuracy = float(np.mean(predicted == held[1]))
    assert accuracy == pytest.approx(report.attrs["metric_after"], abs=1e-6)
    assert 1.0 - accuracy <= 0.02 + 1e-9


def test_finetune_needs_arrays_before_any_work(task):
    model, x, _ = task
    stats = linprune.measure(model, x, verbose=0)
    with pytest.raises(ValueError, match="finetune=2: it trains on them"):
        linprune.apply(model, stats, threshold=0.9, finetune=2)
    with pytest.raises(TypeError, match="number of epochs"):
        linprune.apply(model, x, finetune=1.5)
    with pytest.raises(ValueError, match="number of epochs"):
        linprune.apply(model, x, finetune=-1)


def test_finetune_lowers_the_output_error_of_a_lossy_fold():
    model = f.mlp()  # random weights: activation rates spread over (0, 1)
    x = f.data(400, seed=1)
    lossy, _ = linprune.apply(model, x, threshold=0.5, refit=False, verbose=0)
    tuned, report = linprune.apply(
        model, x, threshold=0.5, refit=False, finetune=3, verbose=0
    )
    want = model.predict(x, verbose=0)

    def error(m):
        return float(np.mean((m.predict(x, verbose=0) - want) ** 2))

    assert tuned.count_params() == lossy.count_params() < model.count_params()
    assert 1e-4 < error(lossy) and error(tuned) < error(lossy)
    assert isinstance(tuned, keras.Model) and report.attrs["finetune_epochs"] >= 1
