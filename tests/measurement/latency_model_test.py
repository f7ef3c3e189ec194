"""Calibrating the latency cost model: the fit, and the per-machine cache."""

import json

import pytest

from keras_linprune.measurement import latency_model as lm


def test_the_fit_recovers_a_linear_cost(monkeypatch):
    # Timings that follow 0.02 ms per layer + 3e-9 ms per multiply-accumulate.
    monkeypatch.setattr(
        lm,
        "_layer_ms",
        lambda n_in, n_out, batch, repeats: 0.02 + 3e-9 * n_in * n_out * batch,
    )
    model = lm.calibrate(batch=64, repeats=1)
    assert model.per_layer_ms == pytest.approx(0.02, rel=1e-6)
    assert model.per_mac_ms == pytest.approx(3e-9, rel=1e-6)
    assert model.batch == 64


def test_calibration_is_cached_per_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_LINPRUNE_CACHE", str(tmp_path))
    calls = []

    def fake(batch, repeats):
        calls.append(batch)
        return lm.LatencyModel(0.01, 1e-9, batch)

    monkeypatch.setattr(lm, "calibrate", fake)
    first = lm.latency_model(batch=32)
    again = lm.latency_model(batch=32)
    assert first == again and calls == [32]
    stored = json.loads((tmp_path / "latency_model.json").read_text())
    assert list(stored) == [lm.machine_key(32)]
    lm.latency_model(batch=64)  # another batch: calibrated again
    assert calls == [32, 64]


@pytest.mark.slow
def test_a_real_calibration_has_positive_costs():
    model = lm.calibrate(batch=64, repeats=3)
    assert model.per_layer_ms >= 0 and model.per_mac_ms > 0
