"""Piecewise-linear activations as data (docs/method.md, section 4).

An activation is a tuple of *pieces*: intervals `(lo, hi]` of the
pre-activation `z` on which `sigma(z) = slope * z + offset`. A neuron whose
pre-activation stays inside one piece on all data is affine there. Pure
Python and NumPy: the planner and the algebra use these descriptions, the
Keras side (`graph/activations.py`) produces them.

Example:

>>> [(p.lo, p.hi, p.slope) for p in relu_pieces(max_value=6.0)]
[(-inf, 0.0, 0.0), (0.0, 6.0, 1.0), (6.0, inf, 0.0)]
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

INF = math.inf


@dataclasses.dataclass(frozen=True)
class Piece:
    """`sigma(z) = slope * z + offset` for `lo < z <= hi`.

    Intervals are closed on the right, as Keras' `relu(..., threshold=t)`
    is 0 at `z == t`.

    `slope` is a float, or a per-neuron array (PReLU).
    """

    lo: float
    hi: float
    slope: float | np.ndarray
    offset: float

    @property
    def is_constant(self) -> bool:
        return bool(np.all(np.asarray(self.slope) == 0))

    def value_at(self, z: Any) -> Any:
        return self.slope * z + self.offset


@dataclasses.dataclass(frozen=True)
class Activation:
    """A piecewise-linear activation.

    Attributes:
        name: For messages and the report.
        pieces: `Piece`s in increasing order of `z`.
        principal: Index of the piece whose rate is reported as the site's
            activation rate (the identity piece for ReLU-like functions).
        partition: Whether the pieces cover the whole real line.
        monotone: Whether `sigma` is non-decreasing, so that the piece can
            be read off the output `h` instead of `z`.
    """

    name: str
    pieces: tuple[Piece, ...]
    principal: int
    partition: bool = True
    monotone: bool = True

    def h_bounds(self) -> list[tuple[float, bool, float]]:
        """Per piece, `(low, low_inclusive, high)` bounds on the output h.

        A constant piece is the single value `offset` (`low == high`). A
        sloped piece is `low < h < high`, or `low <= h` when the piece
        before it is sloped too (the shared boundary value is exact in
        both).
        """
        bounds = []
        for i, p in enumerate(self.pieces):
            if p.is_constant:
                bounds.append((p.offset, True, p.offset))
                continue
            low = -INF if p.lo == -INF else float(p.value_at(p.lo))
            high = INF if p.hi == INF else float(p.value_at(p.hi))
            prev_sloped = i > 0 and not self.pieces[i - 1].is_constant
            bounds.append((low, prev_sloped, high))
        return bounds


def relu_pieces(
    negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> tuple[Piece, ...]:
    """Pieces of `keras.activations.relu` with its three parameters."""
    pieces = [
        Piece(-INF, threshold, negative_slope, 0.0 - negative_slope * threshold),
    ]
    top = INF if max_value is None else float(max_value)
    if top > threshold:
        pieces.append(Piece(threshold, top, 1.0, 0.0))
    if max_value is not None:
        pieces.append(Piece(top, INF, 0.0, float(max_value)))
    return tuple(pieces)


#: Plain ReLU: off (constant 0) below 0, identity above.
RELU = Activation("relu", relu_pieces(), 1)
