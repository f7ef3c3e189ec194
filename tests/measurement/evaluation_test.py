"""Evaluating candidates (`measurement/evaluation.py`)."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from keras_linprune.measurement import evaluation
from tests import factories as f


def test_candidate_data_batches_arrays_once_and_evaluates_alike():
    model = f.mlp((6, 16, 3), seed=2)
    x = f.data(2500, 6)
    y = np.random.default_rng(0).integers(0, 3, 2500)
    w = np.random.default_rng(1).uniform(0.5, 2.0, 2500).astype("float32")
    for data in ((x, y), (x, y, w)):
        prepared = evaluation.candidate_data(data)
        assert isinstance(prepared, tf.data.Dataset)
        assert len(list(prepared)) == 3  # 1,024-row batches
        metrics = ["sparse_categorical_accuracy"]
        want = evaluation.evaluate(model, data, metrics)
        got = evaluation.evaluate(model, prepared, metrics, built_here=True)
        assert got == pytest.approx(want, rel=1e-6)


def test_candidate_data_leaves_other_data_alone():
    x = f.data(10, 6)
    frame = pd.DataFrame(x)
    dataset = tf.data.Dataset.from_tensor_slices((x, x)).batch(4)
    for data in ((frame, x), dataset, (x, None)):
        assert evaluation.candidate_data(data) is data
