"""Second moments for refit: the sums its least squares needs, per site.

Refit (`rebuild/refit.py`, docs/method.md section 8) fits each folded
site's linear neurons as an affine map of what the producer's terms read,
`sigma(z_J) ~ [F 1] w`: `F` holds, per output position, the producer's
input (and the sources earlier folds gave it), as the kernel sees it (the
patches of a convolution, a flattened input). Its normal equations need two
sums over the calibration rows, `[F 1]^T [F 1]` and `[F 1]^T sigma(z)`.
They are gathered here in float64, batch by batch (activations are never
all in memory), for every neuron of the site, so one set of sums serves any
threshold:

* for one plan's features, by refit's own pass (`gather`);
* for every feature any plan can read, during `measure(..., moments=True)`
  (`counting.py` adds a `moment_probe.MomentsProbe` to its pass): refit then runs from
  the statistics, in sweeps and size targets, with no further pass.

This module holds the sums themselves (`Block`, `SiteMoments`) and their
form in a stats file (`to_arrays`, `from_arrays`); `moment_blocks.py` says
which features a site's sums cover, `moment_probe.py` sums them over the
data. Memory per site: `8 (F + 1) (F + 1 + n)` bytes, `F` feature columns
and `n` neurons (`SiteMoments.nbytes`).
"""

import dataclasses
import json
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Block:
    """The feature columns one source contributes, read with one geometry.

    Attributes:
        source: Key of the source tensor.
        signature: Geometry signature of the term reading it (`"dense"`, a
            convolution's kernel, strides, padding...).
        width: Channels of the source in the original model.
        taps: Shape of the term's tap axes (algebra layout): `()` for one
            tap, a convolution's kernel size, `(positions,)` through a
            `Flatten`.
    """

    source: str
    signature: str
    width: int
    taps: tuple = ()

    @property
    def size(self):
        """Feature columns: taps times channels."""
        return math.prod(self.taps) * self.width

    def columns(self, keep=None):
        """Indices (within the block) of the features of channels `keep`
        (`None`: all), tap-major like the kernel's rows.

        >>> Block("x", "k", width=3, taps=(2,)).columns([0, 2]).tolist()
        [0, 2, 3, 5]
        """
        if keep is None:
            return np.arange(self.size)
        taps = np.arange(math.prod(self.taps))[:, None] * self.width
        return (taps + np.asarray(keep, np.int64)[None, :]).ravel()


@dataclasses.dataclass
class SiteMoments:
    """The sums of one site's least squares.

    Attributes:
        blocks: The feature blocks, in column order.
        gram: `[F 1]^T [F 1]`, float64, the ones column last.
        cross: `[F 1]^T sigma(z)` for every neuron of the site, float64.
    """

    blocks: tuple
    gram: np.ndarray
    cross: np.ndarray

    @property
    def nbytes(self):
        """Memory the sums take."""
        return self.gram.nbytes + self.cross.nbytes

    def __add__(self, other):
        if other.blocks != self.blocks:
            raise ValueError(
                "Expected moments of the same features. Received: blocks "
                f"{self.blocks} and {other.blocks}"
            )
        return SiteMoments(
            self.blocks, self.gram + other.gram, self.cross + other.cross
        )

    def normal_equations(self, selected, linear, intercept):
        """`(A, b)` of the fit of neurons `linear` on the features
        `selected`, a list of `(block, kept channels or None)` (each block
        one of `blocks`), with the ones column if `intercept`."""
        starts = np.cumsum([0] + [b.size for b in self.blocks])
        where = {b: s for b, s in zip(self.blocks, starts)}
        missing = [b for b, _ in selected if b not in where]
        if missing:  # measured moments hold every block any plan reads
            raise RuntimeError(
                f"keras_linprune bug: no moments for the features {missing}. "
                "Please report it with the model's summary."
            )
        parts = [where[b] + b.columns(keep) for b, keep in selected]
        if intercept:
            parts.append([starts[-1]])
        index = np.concatenate(parts).astype(np.int64)
        return self.gram[np.ix_(index, index)], self.cross[np.ix_(index, linear)]


def _blocks_json(blocks):
    return json.dumps([[b.source, b.signature, b.width, list(b.taps)] for b in blocks])


def digest_parts(moments):
    """What a stats file's digest covers of `moments` (`{site:
    SiteMoments}` or `None`): per site a text header and the two sums'
    bytes, in order."""
    for site, m in (moments or {}).items():
        yield f"moments|{site}|{_blocks_json(m.blocks)}|".encode()
        yield np.ascontiguousarray(m.gram, np.float64).tobytes()
        yield np.ascontiguousarray(m.cross, np.float64).tobytes()


def to_arrays(moments):
    """`moments` (`{site: SiteMoments}` or `None`) as named arrays for an
    `.npz` file (none for `None`): the sites, and per site its blocks as
    JSON and the two sums."""
    arrays = {}
    if moments is None:
        return arrays
    arrays["moment_sites"] = np.array(list(moments), dtype=str)
    for site, m in moments.items():
        arrays[f"moments/{site}/blocks"] = np.array(_blocks_json(m.blocks))
        arrays[f"moments/{site}/gram"] = m.gram
        arrays[f"moments/{site}/cross"] = m.cross
    return arrays


def array_names(site):
    """The names `to_arrays` gives the blocks, Gram and cross sums of
    `site`."""
    prefix = f"moments/{site}/"
    return prefix + "blocks", prefix + "gram", prefix + "cross"


def from_arrays(blocks_json, gram, cross):
    """The `SiteMoments` of one site from what `to_arrays` wrote.

    Raises:
        ValueError: If the blocks are not readable JSON, or the sums'
            shapes do not match the blocks.

    >>> m = SiteMoments((Block("x", "dense", 2),), np.eye(3), np.zeros((3, 4)))
    >>> names = array_names("s")
    >>> arrays = to_arrays({"s": m})
    >>> from_arrays(*(arrays[n] for n in names)).blocks == m.blocks
    True
    """
    try:
        blocks = tuple(
            Block(str(source), str(signature), int(width), tuple(taps))
            for source, signature, width, taps in json.loads(str(blocks_json))
        )
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"Expected the feature blocks as JSON. Received: unreadable blocks ({e})"
        ) from None
    size = sum(b.size for b in blocks) + 1
    if gram.shape != (size, size) or cross.ndim != 2 or cross.shape[0] != size:
        raise ValueError(
            f"Expected moments of {size} features. Received: shapes "
            f"{gram.shape} and {cross.shape}"
        )
    return SiteMoments(blocks, gram, cross)
