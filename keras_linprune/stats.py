"""Activation statistics: per-site, per-neuron, per-piece counts."""

import numpy as np
import pandas as pd


class ActivationStats:
    """How often each neuron of each fold site was in each linear piece.

    Produced by `keras_linprune.measure`; reusable across many `apply`
    calls with different thresholds, and saveable with `save` / `load`.
    For ReLU, the *rate* of a neuron is the fraction of observations on
    which it was active (output > 0), as in the prototype; other
    activations report the rate of their principal (identity-like) piece.

    Args:
        counts: Mapping from site key to int64 counts: shape
            `(pieces, width)`, observations of each neuron in each piece of
            the site's activation; or shape `(width,)` for a ReLU site (the
            active counts).
        observations: Mapping from site key to the number of observations
            per neuron (rows, times positions for sequence inputs).
        rows: Number of calibration rows seen.
        fingerprint: Digest of the model the statistics were measured on.
        model_name: Name of that model, for messages.
        principal: Mapping from site key to the index of the piece whose
            rate is reported (default: 1, ReLU's active piece).

    Example:

    >>> import numpy as np
    >>> s = ActivationStats({"h": np.array([4, 0, 2])}, {"h": 4}, rows=4,
    ...                     fingerprint="x", model_name="m")
    >>> s.rates["h"]
    array([1. , 0. , 0.5])
    >>> s.piece_counts["h"].tolist()
    [[0, 4, 2], [4, 0, 2]]
    """

    def __init__(self, counts, observations, rows, fingerprint, model_name,
                 principal=None):
        self.observations = {k: int(v) for k, v in observations.items()}
        principal = dict(principal or {})
        self.piece_counts = {}
        for k, c in counts.items():
            c = np.asarray(c, np.int64)
            if c.ndim == 1:
                c = np.stack([self.observations[k] - c, c])
            self.piece_counts[k] = c
            principal.setdefault(k, 1)
        self.principal = principal
        self.rows = int(rows)
        self.fingerprint = fingerprint
        self.model_name = model_name

    @property
    def sites(self):
        """Site keys, in graph order."""
        return tuple(self.piece_counts)

    @property
    def counts(self):
        """Mapping from site key to int64 counts of the principal piece."""
        return {k: c[self.principal[k]] for k, c in self.piece_counts.items()}

    @property
    def rates(self):
        """Mapping from site key to per-neuron rates (principal piece)."""
        return {k: c / max(self.observations[k], 1)
                for k, c in self.counts.items()}

    @property
    def piece_rates(self):
        """Mapping from site key to `(pieces, width)` rates."""
        return {k: c / max(self.observations[k], 1)
                for k, c in self.piece_counts.items()}

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
        arrays = {f"counts/{k}": v for k, v in self.piece_counts.items()}
        np.savez(
            path,
            sites=np.array(self.sites, dtype=str),
            observations=np.array(
                [self.observations[k] for k in self.sites], np.int64
            ),
            principal=np.array([self.principal[k] for k in self.sites],
                               np.int64),
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
            principal = dict(zip(sites, f["principal"].tolist()))
            return cls(counts, observations, int(f["rows"]),
                       str(f["fingerprint"]), str(f["model_name"]),
                       principal)

    def __repr__(self):
        return (
            f"<ActivationStats model={self.model_name!r} rows={self.rows} "
            f"sites={len(self.piece_counts)}>"
        )
