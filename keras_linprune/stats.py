"""Activation statistics: per-site, per-neuron activity counts."""

import numpy as np
import pandas as pd


class ActivationStats:
    """How often each neuron of each fold site was active on the data.

    Produced by `keras_linprune.measure`; reusable across many `apply`
    calls with different thresholds, and saveable with `save` / `load`.

    Args:
        counts: Mapping from site key to an int64 vector: for each neuron,
            the number of observations on which it was in the identity piece
            of its activation (ReLU: output > 0).
        observations: Mapping from site key to the number of observations
            per neuron (rows, times positions for sequence inputs).
        rows: Number of calibration rows seen.
        fingerprint: Digest of the model the statistics were measured on.
        model_name: Name of that model, for messages.

    Example:

    >>> import numpy as np
    >>> s = ActivationStats({"h": np.array([4, 0, 2])}, {"h": 4}, rows=4,
    ...                     fingerprint="x", model_name="m")
    >>> s.rates["h"]
    array([1. , 0. , 0.5])
    >>> s.to_dataframe().shape
    (3, 4)
    """

    def __init__(self, counts, observations, rows, fingerprint, model_name):
        self.counts = {k: np.asarray(v, np.int64) for k, v in counts.items()}
        self.observations = {k: int(v) for k, v in observations.items()}
        self.rows = int(rows)
        self.fingerprint = fingerprint
        self.model_name = model_name

    @property
    def sites(self):
        """Site keys, in graph order."""
        return tuple(self.counts)

    @property
    def rates(self):
        """Mapping from site key to per-neuron activation rates in [0, 1]."""
        return {
            k: c / max(self.observations[k], 1) for k, c in self.counts.items()
        }

    def to_dataframe(self):
        """Long format: one row per neuron (site, neuron, rate, count)."""
        frames = [
            pd.DataFrame({
                "site": site,
                "neuron": np.arange(c.size),
                "rate": c / max(self.observations[site], 1),
                "count": c,
            })
            for site, c in self.counts.items()
        ]
        if not frames:
            return pd.DataFrame(
                {"site": [], "neuron": [], "rate": [], "count": []}
            )
        return pd.concat(frames, ignore_index=True)

    def save(self, path):
        """Writes the statistics to a `.npz` file."""
        arrays = {f"counts/{k}": v for k, v in self.counts.items()}
        np.savez(
            path,
            sites=np.array(self.sites, dtype=str),
            observations=np.array(
                [self.observations[k] for k in self.sites], np.int64
            ),
            rows=self.rows,
            fingerprint=self.fingerprint,
            model_name=self.model_name,
            **arrays,
        )

    @classmethod
    def load(cls, path):
        """Reads statistics written by `save`."""
        with np.load(path, allow_pickle=False) as f:
            sites = [str(s) for s in f["sites"]]
            counts = {s: f[f"counts/{s}"] for s in sites}
            observations = dict(zip(sites, f["observations"].tolist()))
            return cls(counts, observations, int(f["rows"]),
                       str(f["fingerprint"]), str(f["model_name"]))

    def __repr__(self):
        return (
            f"<ActivationStats model={self.model_name!r} rows={self.rows} "
            f"sites={len(self.counts)}>"
        )
