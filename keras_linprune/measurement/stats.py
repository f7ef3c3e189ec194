"""Activation statistics: per-site, per-neuron, per-piece counts."""

from __future__ import annotations

import os

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
            the site's activation; `(calls, pieces, width)` for a layer
            called at several places (one block per call); or `(width,)`
            for a ReLU site (the active counts).
        observations: Mapping from site key to the number of observations
            per neuron (rows, times positions for sequence inputs); an
            array with one entry per call for a shared layer.
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

    def __init__(
        self, counts, observations, rows, fingerprint, model_name, principal=None
    ):
        self.observations = {
            k: int(v) if np.ndim(v) == 0 else np.asarray(v, np.int64)
            for k, v in observations.items()
        }
        principal = dict(principal or {})
        self.piece_counts = {}
        for k, c in counts.items():
            c = np.asarray(c, np.int64)
            if c.ndim == 1:
                c = np.stack([self.total_observations(k) - c, c])
            self.piece_counts[k] = c
            principal.setdefault(k, 1)
        self.principal = principal
        self.rows = int(rows)
        self.fingerprint = fingerprint
        self.model_name = model_name

    def total_observations(self, site: str) -> int:
        """Observations per neuron, over every call of the site's layer."""
        return int(np.sum(self.observations[site]))

    @property
    def sites(self) -> tuple[str, ...]:
        """Site keys, in graph order."""
        return tuple(self.piece_counts)

    @property
    def counts(self) -> dict[str, np.ndarray]:
        """Mapping from site key to int64 counts of the principal piece
        (summed over the calls of a shared layer)."""
        out = {}
        for k, c in self.piece_counts.items():
            p = self.principal[k]
            out[k] = c[:, p].sum(axis=0) if c.ndim == 3 else c[p]
        return out

    @property
    def rates(self) -> dict[str, np.ndarray]:
        """Mapping from site key to per-neuron rates (principal piece, over
        all calls)."""
        return {
            k: c / max(self.total_observations(k), 1) for k, c in self.counts.items()
        }

    @property
    def piece_rates(self) -> dict[str, np.ndarray]:
        """Mapping from site key to `(pieces, width)` rates. For a shared
        layer, the smallest rate over its calls: a neuron counts as in a
        piece only as far as every call site puts it there."""
        out = {}
        for k, c in self.piece_counts.items():
            obs = np.maximum(np.asarray(self.observations[k]), 1)
            out[k] = (c / obs[:, None, None]).min(axis=0) if c.ndim == 3 else c / obs
        return out

    def to_dataframe(self) -> pd.DataFrame:
        """Long format: one row per neuron (site, neuron, rate, count)."""
        frames = [
            pd.DataFrame(
                {
                    "site": site,
                    "neuron": np.arange(c.size),
                    "rate": c / max(self.total_observations(site), 1),
                    "count": c,
                }
            )
            for site, c in self.counts.items()
        ]
        if not frames:
            return pd.DataFrame({"site": [], "neuron": [], "rate": [], "count": []})
        return pd.concat(frames, ignore_index=True)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the statistics to a `.npz` file."""
        arrays = {f"counts/{k}": v for k, v in self.piece_counts.items()}
        arrays.update(
            {
                f"observations/{k}": np.asarray(v, np.int64)
                for k, v in self.observations.items()
            }
        )
        np.savez(
            path,
            sites=np.array(self.sites, dtype=str),
            principal=np.array([self.principal[k] for k in self.sites], np.int64),
            rows=self.rows,
            fingerprint=self.fingerprint,
            model_name=self.model_name,
            **arrays,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> ActivationStats:
        """Reads statistics written by `save`."""
        with np.load(path, allow_pickle=False) as f:
            sites = [str(s) for s in f["sites"]]
            counts = {s: f[f"counts/{s}"] for s in sites}
            observations = {s: f[f"observations/{s}"] for s in sites}
            principal = dict(zip(sites, f["principal"].tolist()))
            return cls(
                counts,
                observations,
                int(f["rows"]),
                str(f["fingerprint"]),
                str(f["model_name"]),
                principal,
            )

    def __repr__(self):
        return (
            f"<ActivationStats model={self.model_name!r} rows={self.rows} "
            f"sites={len(self.piece_counts)}>"
        )
