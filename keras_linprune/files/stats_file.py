"""The `.npz` format of `ActivationStats` files, and its validation.

A stats file holds a format version, the model's fingerprint and name, the
row count, per site the piece counts, observations and principal piece,
whether all calibration rows were identical, optionally the second
moments refit needs (per site: its feature blocks as JSON, the two sums),
and a digest over all of it.
Loading checks everything and raises `StatsFileError` for anything that is
not a file `ActivationStats.save` wrote: a missing field, a wrong type, an
impossible count, or content edited after writing (the digest).
"""

import hashlib
import os
import zipfile

import numpy as np

from keras_linprune.files.atomic import atomic_path
from keras_linprune.measurement import moments as moments_lib

#: Version of the file layout; files of other versions are refused.
FORMAT_VERSION = 1


class StatsFileError(ValueError):
    """A file that is not a valid `ActivationStats` file."""


def digest(stats):
    """Digest of everything a stats file stores (its integrity check)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{FORMAT_VERSION}|{stats.fingerprint}|{stats.model_name}|".encode())
    h.update(f"{stats.rows}|{stats.identical_rows}|".encode())
    for site in stats.sites:
        counts = np.ascontiguousarray(stats.piece_counts[site], np.int64)
        observations = np.ascontiguousarray(stats.observations[site], np.int64)
        h.update(f"{site}|{stats.principal[site]}|{counts.shape}|".encode())
        h.update(counts.tobytes())
        h.update(observations.tobytes())
    for part in moments_lib.digest_parts(stats.moments):  # none: unchanged
        h.update(part)
    return h.hexdigest()


def save(stats, path):
    """Writes `stats` to exactly `path` (no suffix is appended), atomically."""
    arrays = {f"counts/{k}": v for k, v in stats.piece_counts.items()}
    arrays.update(
        {
            f"observations/{k}": np.asarray(v, np.int64)
            for k, v in stats.observations.items()
        }
    )
    arrays.update(moments_lib.to_arrays(stats.moments))
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            format_version=FORMAT_VERSION,
            sites=np.array(stats.sites, dtype=str),
            principal=np.array([stats.principal[k] for k in stats.sites], np.int64),
            rows=stats.rows,
            identical_rows=stats.identical_rows,
            fingerprint=stats.fingerprint,
            model_name=stats.model_name,
            digest=digest(stats),
            **arrays,
        )


def load(cls, path):
    """Reads and validates a stats file; returns a `cls` instance."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No stats file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as f:
            fields = {name: f[name] for name in f.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise StatsFileError(
            "Expected a stats file written by `ActivationStats.save`. "
            f"Received: {path!r}, which cannot be read ({e})"
        ) from None
    stats = _from_fields(cls, fields, path)
    if str(fields["digest"]) != digest(stats):
        raise StatsFileError(
            "Expected an unmodified stats file. Received: "
            f"{path!r}, whose content does not match its digest (edited or "
            "corrupted after it was written); measure again"
        )
    return stats


def _field(fields, name, path, kind):
    if name not in fields:
        raise StatsFileError(
            f"Expected a stats file with a {name!r} field. Received: {path!r} "
            "without it"
        )
    value = fields[name]
    if value.dtype.kind not in kind:
        raise StatsFileError(
            f"Expected field {name!r} of kind {kind!r} in the stats file. "
            f"Received: dtype {value.dtype} in {path!r}"
        )
    return value


def _from_fields(cls, fields, path):
    version = _field(fields, "format_version", path, "iu")
    if int(version) != FORMAT_VERSION:
        raise StatsFileError(
            f"Expected a stats file of format version {FORMAT_VERSION}. "
            f"Received: version {int(version)} in {path!r}"
        )
    sites = [str(s) for s in _field(fields, "sites", path, "U")]
    counts = {s: _field(fields, f"counts/{s}", path, "iu") for s in sites}
    observations = {s: _field(fields, f"observations/{s}", path, "iu") for s in sites}
    principal = _field(fields, "principal", path, "iu").tolist()
    for name in ("fingerprint", "model_name", "digest"):
        _field(fields, name, path, "U")
    rows = int(_field(fields, "rows", path, "iu"))
    if rows < 1:
        raise StatsFileError(
            f"Expected a stats file of at least one calibration row. Received: "
            f"rows={rows} in {path!r}"
        )
    moments = _moments_from(fields, path)
    try:
        return cls(
            counts,
            observations,
            rows,
            str(fields["fingerprint"]),
            str(fields["model_name"]),
            dict(zip(sites, principal)),
            identical_rows=bool(_field(fields, "identical_rows", path, "b")),
            moments=moments,
        )
    except ValueError as e:
        raise StatsFileError(f"{e} (in the stats file {path!r})") from None


def _moments_from(fields, path):
    """The `SiteMoments` a file holds, or `None` (a file without them)."""
    if "moment_sites" not in fields:
        return None
    out = {}
    for site in (str(s) for s in _field(fields, "moment_sites", path, "U")):
        blocks, gram, cross = moments_lib.array_names(site)
        arrays = (
            _field(fields, blocks, path, "U"),
            _field(fields, gram, path, "f"),
            _field(fields, cross, path, "f"),
        )
        try:
            out[site] = moments_lib.from_arrays(*arrays)
        except ValueError as e:
            raise StatsFileError(
                f"{e} (moments of site {site!r} in the stats file {path!r})"
            ) from None
    return out
