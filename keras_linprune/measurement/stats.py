"""Activation statistics: per-site, per-neuron, per-piece counts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from keras_linprune.core.spec import GraphSpec
from keras_linprune.files import stats_file
from keras_linprune.measurement.moments import SiteMoments

#: Fewer observations per neuron than this make a site's rates unreliable.
MIN_OBSERVATIONS_PER_NEURON = 4


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
        identical_rows: Whether every calibration row was the same (the
            rates then say nothing about other inputs; see `warnings`).
        moments: Mapping from site key to its `moments.SiteMoments` (the
            sums refit needs, from `measure(..., moments=True)`), or `None`.

    Raises:
        ValueError: For counts that are not integers, negative, or more
            than the observations.

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
        self,
        counts: Mapping[str, np.ndarray],
        observations: Mapping[str, Any],
        rows: int,
        fingerprint: str,
        model_name: str,
        principal: Mapping[str, int] | None = None,
        *,
        identical_rows: bool = False,
        moments: Mapping[str, SiteMoments] | None = None,
    ) -> None:
        self.observations = {
            k: int(v) if np.ndim(v) == 0 else np.asarray(v, np.int64)
            for k, v in observations.items()
        }
        principal = dict(principal or {})
        self.piece_counts = {}
        for k, c in counts.items():
            c = _integer_counts(k, c)
            if c.ndim == 1:
                c = np.stack([self.total_observations(k) - c, c])
            self.piece_counts[k] = c
            principal.setdefault(k, 1)
        self.principal = principal
        self.rows = int(rows)
        self.fingerprint = fingerprint
        self.model_name = model_name
        self.identical_rows = bool(identical_rows)
        self.moments = None if moments is None else dict(moments)
        self._check_counts()

    def _sums_per_call(self, site):
        """`(observations, piece sums, observations per call)` of a site:
        per neuron, the counts of all pieces next to what they may reach."""
        counts = self.piece_counts[site]
        obs = np.asarray(self.observations[site], np.int64)
        per_call = obs if counts.ndim == 2 else obs[:, None]
        return obs, counts.sum(axis=-2), per_call

    def _check_counts(self):
        if self.rows < 0:
            raise ValueError(f"Expected rows >= 0. Received: rows={self.rows}")
        for k, c in self.piece_counts.items():
            obs, sums, per_call = self._sums_per_call(k)
            if np.any(obs < 0) or np.any(c < 0):
                raise ValueError(
                    f"Expected non-negative counts and observations for site "
                    f"{k!r}. Received: a negative value"
                )
            if np.any(sums > per_call):
                raise ValueError(
                    f"Expected at most {int(np.max(obs))} observations per neuron "
                    f"for site {k!r}. Received: counts summing to "
                    f"{int(sums.max())}"
                )
            if not 0 <= self.principal[k] < c.shape[-2]:
                raise ValueError(
                    f"Expected a principal piece below {c.shape[-2]} for site "
                    f"{k!r}. Received: {self.principal[k]}"
                )

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

    @property
    def warnings(self) -> list[str]:
        """Why the calibration may not support the decisions (empty when it
        does): identical rows, or too few observations per neuron."""
        out = []
        if self.identical_rows:
            out.append(
                "every calibration row is identical: each neuron sees one value, so "
                "every rate is 0 or 1 and folds hold only for that input"
            )
        for k, c in self.piece_counts.items():
            width = c.shape[-1]
            per_neuron = self.total_observations(k)
            if per_neuron < MIN_OBSERVATIONS_PER_NEURON:
                out.append(
                    f"site {k!r}: {per_neuron} observations per neuron "
                    f"({width} neurons) are too few to tell linear from rarely "
                    "inactive; use more calibration rows"
                )
        return out

    def check_matches(self, spec: GraphSpec) -> None:
        """Raises `ValueError` unless the counts have the sites and shapes of
        `spec` (a `core.spec.GraphSpec`) and, where the activation's pieces
        cover the line, add up to the observations."""
        expected = [s.name for s in spec.sites]
        if list(self.piece_counts) != expected:
            raise ValueError(
                f"Expected statistics for sites {expected}. Received: "
                f"{list(self.piece_counts)}"
            )
        for site in spec.sites:
            c = self.piece_counts[site.name]
            shape = (len(site.activation.pieces), site.width)
            if c.shape[-2:] != shape:
                raise ValueError(
                    f"Expected counts of shape {shape} for site {site.name!r}. "
                    f"Received: {c.shape}"
                )
            obs, sums, per_call = self._sums_per_call(site.name)
            if site.activation.partition and np.any(sums != per_call):
                raise ValueError(
                    f"Expected the piece counts of site {site.name!r} to add up "
                    f"to its {int(np.max(obs))} observations. Received: sums from "
                    f"{int(sums.min())} to {int(sums.max())}"
                )

    @classmethod
    def merge(cls, *parts: ActivationStats) -> ActivationStats:
        """Statistics of several calibration sets as one: the counts,
        observations and rows of `parts`, measured on the same model, added.

        Measure shards of a large set wherever they live (separate jobs,
        machines, days) and merge: the result equals measuring all of them
        in one pass, bit for bit. Rows count as identical only if every
        part's rows were. Second moments are added too when every part has
        them (floats: equal to one pass up to the order of addition), and
        dropped when a part has none.

        Raises:
            ValueError: With no part, or parts from different models (their
                fingerprints differ) or with different sites.

        Example:

        >>> import numpy as np
        >>> a = ActivationStats({"h": np.array([2, 0])}, {"h": 2}, 2, "f", "m")
        >>> b = ActivationStats({"h": np.array([1, 1])}, {"h": 3}, 3, "f", "m")
        >>> ActivationStats.merge(a, b).rates["h"].tolist()
        [0.6, 0.2]
        """
        if not parts:
            raise ValueError("Expected at least one ActivationStats. Received: none")
        first = parts[0]
        for other in parts[1:]:
            if other.fingerprint != first.fingerprint or other.sites != first.sites:
                raise ValueError(
                    "Expected statistics measured on the same model. Received: "
                    f"{first!r} and {other!r}, whose models differ"
                )
        return cls(
            {k: np.asarray(sum(p.piece_counts[k] for p in parts)) for k in first.sites},
            {
                k: np.asarray(sum(np.asarray(p.observations[k]) for p in parts))
                for k in first.sites
            },
            sum(p.rows for p in parts),
            first.fingerprint,
            first.model_name,
            first.principal,
            identical_rows=all(p.identical_rows for p in parts),
            moments=_merged_moments(parts),
        )

    @property
    def moments_nbytes(self) -> int:
        """Memory the second moments take (0 without them)."""
        return sum(m.nbytes for m in (self.moments or {}).values())

    def save(self, path: str | os.PathLike) -> None:
        """Writes the statistics to exactly `path` (an `.npz` file; no
        suffix is added), atomically: a crash leaves any earlier file
        intact."""
        stats_file.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ActivationStats:
        """Reads statistics written by `save`.

        Raises:
            FileNotFoundError: If there is no file at `path`.
            keras_linprune.StatsFileError: If the file is not a valid stats
                file (unreadable, a field missing or of the wrong type, an
                impossible count, a format version this package does not
                read, or content changed after writing).
        """
        return stats_file.load(cls, path)

    def __repr__(self):
        moments = f" moments={len(self.moments)}" if self.moments else ""
        return (
            f"<ActivationStats model={self.model_name!r} rows={self.rows} "
            f"sites={len(self.piece_counts)}{moments}>"
        )


def _merged_moments(parts):
    """The sum of the parts' second moments, or `None` if one has none."""
    if any(p.moments is None for p in parts):
        return None
    first = parts[0].moments
    return {
        site: sum((p.moments[site] for p in parts[1:]), start)
        for site, start in first.items()
    }


def _integer_counts(site, counts):
    counts = np.asarray(counts)
    if counts.dtype.kind not in "iu":
        raise ValueError(
            f"Expected integer counts for site {site!r}. Received: dtype {counts.dtype}"
        )
    return counts.astype(np.int64)
