"""The option checks: each returns the value normalised or raises, naming
what was expected and what was received."""

import math

import numpy as np
import pytest

from keras_linprune import checks
from keras_linprune.measurement.stats import ActivationStats


def test_threshold_is_a_float_in_the_unit_interval():
    assert checks.check_threshold(1) == 1.0 and isinstance(
        checks.check_threshold(1), float
    )
    for bad, error in [(1.01, ValueError), (math.nan, ValueError), (True, TypeError)]:
        with pytest.raises(error, match="threshold"):
            checks.check_threshold(bad)


@pytest.mark.parametrize(
    "value,expected", [("optimal", "optimal"), (3, 3), (0.5, 0.5), (np.int64(2), 2)]
)
def test_layer_threshold_accepts_rules_counts_and_fractions(value, expected):
    assert checks.check_layer_threshold(value) == expected


@pytest.mark.parametrize("bad", ["best-ish", -1, 1.5, True, None])
def test_layer_threshold_refuses_the_rest(bad):
    with pytest.raises((ValueError, TypeError), match="Received: layer_threshold="):
        checks.check_layer_threshold(bad)


@pytest.mark.parametrize(
    "args,match",
    [
        ((0.9, 0.5, None, None), "either `threshold` or a size target"),
        ((None, 0.5, 100, None), "one of `target_size`"),
        ((None, None, 0, None), "positive int"),
        ((None, 1.5, None, None), r"in \(0, 1\]"),
        ((None, 0.5, None, 1.0), r"`target_step` in \(0, 1\)"),
        ((None, None, 100, 0.1), "with `target_size`"),
        ((None, None, None, 0.1), "only together"),
    ],
)
def test_size_target_combinations(args, match):
    with pytest.raises(ValueError, match=match):
        checks.check_target(*args)


def test_valid_size_targets_pass():
    assert checks.check_target(None, 0.5, None, 0.05) is None
    assert checks.check_target(None, None, 1000, None) is None
    assert checks.check_target(0.9, None, None, None) is None


def test_count_options():
    assert checks.check_count("steps", None) is None
    assert checks.check_count("batch_size", np.int32(8)) == 8
    with pytest.raises(ValueError, match=r"`batch_size` to be None or a positive"):
        checks.check_count("batch_size", 0)
    with pytest.raises(ValueError, match=r"\(batches to read\). Received: steps=2.5"):
        checks.check_count("steps", 2.5, "batches to read")


def test_guard_needs_eval_data_and_no_other_threshold_choice():
    checks.check_guard(None, None, 0.5, True)  # no guard: nothing to check
    with pytest.raises(ValueError, match="eval_data"):
        checks.check_guard(0.01, None, None, False)
    with pytest.raises(ValueError, match="and a size target"):
        checks.check_guard(0.01, ([0], [0]), None, True)
    with pytest.raises(ValueError, match=">= 0"):
        checks.check_guard(-0.1, ([0], [0]), None, False)


def test_certify_stands_alone():
    checks.check_certify_alone(True, None, False, False)
    checks.check_certify_alone(False, 0.5, True, True)  # not certifying
    with pytest.raises(ValueError, match="`certify` alone"):
        checks.check_certify_alone(True, None, False, True)


def _stats(moments=None):
    counts = {"d": np.array([[1, 0], [1, 2]])}
    return ActivationStats(counts, {"d": 2}, 2, "fp", "m", moments=moments)


def test_refit_and_certify_need_data_or_what_replaces_it():
    checks.check_calibration_needs(False, None, True, np.zeros((4, 2)))
    checks.check_calibration_needs(True, (0.0, 1.0), False, None)
    with pytest.raises(ValueError, match="ActivationStats without second moments"):
        checks.check_calibration_needs(False, None, True, _stats())
    with pytest.raises(ValueError, match="`input_box` or the calibration data"):
        checks.check_calibration_needs(True, None, False, _stats())


def test_verbose_and_choices_and_flags():
    assert checks.check_verbose("auto") == 1
    with pytest.raises(ValueError, match="verbose"):
        checks.check_verbose(True)
    assert checks.check_choice("shortcut", "dense", ("auto", "dense")) == "dense"
    with pytest.raises(ValueError, match="'auto', 'dense'"):
        checks.check_choice("shortcut", "full", ("auto", "dense"))
    # NumPy's booleans are booleans (issue 20: `remove_dead=np.True_`).
    assert checks.check_flag("remove_dead", np.True_) is True
    with pytest.raises(TypeError, match="True or False"):
        checks.check_flag("remove_dead", 1)
    assert checks.check_remove_inactive("auto") == "auto"
    assert checks.check_remove_inactive(np.False_) is False
    with pytest.raises(TypeError, match="True, False or 'auto'"):
        checks.check_remove_inactive("yes")


def test_thresholds_list():
    assert checks.check_thresholds(0.5) == [0.5]
    assert checks.check_thresholds(np.array([1, 0.9])) == [1.0, 0.9]
    with pytest.raises(ValueError, match="at least one"):
        checks.check_thresholds([])
    with pytest.raises(TypeError, match="list of numbers"):
        checks.check_thresholds(["high"])
