"""The host-side input checks of the JAX pass (NumPy; no JAX needed)."""

import numpy as np

from keras_linprune.measurement.jax_counting import InputChecks


def test_nan_batches_and_varying_rows_are_recorded_per_input():
    checks = InputChecks([(0, "a", (2,)), (1, "b", (2,))])
    same = np.ones((3, 2), "float32")
    checks.update([same, same])
    assert checks.nonfinite == {"a": 0, "b": 0} and not checks.varies
    bad = same.copy()
    bad[1, 0] = np.nan
    checks.update([bad, same])
    assert checks.nonfinite == {"a": 1, "b": 0}
    checks.update([same, same * 2])
    assert checks.varies
