"""Fixtures of the command-line tests: saved models and data, and the
compressed models the library tests of export and bench build."""

import numpy as np
import pytest

from tests import factories as f
from tests.bench_test import pair  # noqa: F401 (a fixture)
from tests.export_test import compressed  # noqa: F401 (a fixture)


@pytest.fixture
def saved(tmp_path):
    """A shaped MLP saved as .keras, its calibration data as .npy."""
    model = f.shape_biases(f.mlp())
    model.save(tmp_path / "m.keras")
    x = f.data()
    np.save(tmp_path / "x.npy", x)
    return model, x, tmp_path
