"""Weight algebra of a fold, in plain NumPy (docs/method.md, sections 2-5).

A linear node is held as an `Affine`: its pre-activation is

    z = sum over sources s of  x_s @ terms[s]  +  bias

with every matrix in Keras layout (rows = source features, columns = the
node's units). Folding a site moves the linear neurons' contributions from
the producer's terms onto each consumer, then drops those neurons' rows and
columns. Chains compose because the producer's terms may already hold
shortcuts from earlier folds (docs/method.md, section 3): each is carried along and
merged with any term that shares its source.

Example:

>>> import numpy as np

from __future__ import annotations

from keras_linprune.core.spec import source_of, term_key
>>> p = Affine({"x": np.eye(2)}, np.zeros(2))
>>> c = Affine({"h": np.ones((2, 1))}, np.zeros(1))
>>> p2, c2 = fold_site(p, [c], "h", linear=[0], keep=[1])
>>> sorted(c2[0].terms), p2.terms["x"].shape
(['h', 'x'], (2, 1))
"""

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from keras_linprune.core.spec import source_of, term_key


@dataclasses.dataclass
class Affine:
    """Pre-activation of a linear node as a sum of per-source matrices.

    Attributes:
        terms: Mapping from source key to a kernel of shape
            `(*taps, source_width, units)`: `(source_width, units)` for a
            `Dense` or pointwise term. Insertion order is kept: it is the
            order the layers are emitted.
        bias: Vector of length `units`, or `None` for a layer without bias.
        geometry: Mapping from term key to `(layer name, signature)`: the
            layer whose geometry (Dense, or conv kernel size / strides /
            padding) the term is emitted with, and a signature of that
            geometry. Terms from one source merge only with equal
            signatures; otherwise the incoming term gets the key
            `spec.term_key(source, signature)`. Optional for pure algebra.
    """

    terms: dict[str, np.ndarray]
    bias: np.ndarray | None = None
    geometry: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def units(self) -> int:
        return next(iter(self.terms.values())).shape[-1]

    @property
    def params(self) -> int:
        """Parameters this node costs when emitted (matrices + bias)."""
        count = sum(m.size for m in self.terms.values())
        return count + (0 if self.bias is None else self.bias.size)


def fold_site(
    producer: Affine,
    consumers: Sequence[Affine],
    site: str,
    *,
    keep: ArrayLike,
    linear: ArrayLike = (),
    slope: np.ndarray | float = 1.0,
    offset: np.ndarray | float = 0.0,
    constant: ArrayLike = (),
    value: np.ndarray | float = 0.0,
    fitted: Affine | None = None,
) -> tuple[Affine | None, list[Affine]]:
    """Folds the affine neurons of one site into its consumers.

    Every producer neuron is in exactly one of three sets:

    * `keep`: stays in the producer;
    * `linear` (`J`): `sigma(z_j) = slope_j * z_j + offset_j` on the data;
      moved onto a shortcut `W_P[:, J] diag(slope) W_C[J]` from each
      producer source, plus `W_C[J]^T (slope * b_P[J] + offset)` in the bias;
    * `constant` (`D`): `sigma(z_j) = value_j` (0 for a dead ReLU); adds
      `W_C[D]^T value` to the consumer bias.

    Args:
        producer: `Affine` of the producer layer.
        consumers: List of `Affine`s of the consumer layers; each has a term
            keyed `site` of shape `(producer.units, units_c)`.
        site: Key of the site's activation tensor in the consumers' terms.
        keep: Indices that stay.
        linear: Indices folded into shortcuts.
        slope, offset: Per linear neuron (arrays) or scalars.
        constant: Indices removed as constants.
        value: Their constant outputs (array) or a scalar.
        fitted: Optional `Affine` replacing the linear neurons' affine
            model `diag(slope) (W_P[:, J], b_P[J]) + offset`: one
            `(source_width, |J|)` matrix per producer source and a bias of
            length `|J|` (or `None`), e.g. from a least-squares refit.

    Returns:
        `(new_producer, new_consumers)`; the producer keeps columns `keep`
        (`None` when `keep` is empty: the layer disappears).

    Example:

    >>> p = Affine({"x": np.array([[1.0, 2.0]])}, np.array([0.5, -1.0]))
    >>> c = Affine({"h": np.array([[3.0], [4.0]])}, np.array([0.0]))
    >>> p2, (c2,) = fold_site(p, [c], "h", linear=[0], keep=[1])
    >>> c2.terms["x"], c2.bias
    (array([[3.]]), array([1.5]))
    """
    keep = np.asarray(keep, dtype=np.int64)
    linear = np.asarray(linear, dtype=np.int64)
    constant = np.asarray(constant, dtype=np.int64)
    slope = np.broadcast_to(np.asarray(slope, np.float64), linear.shape)
    offset = np.broadcast_to(np.asarray(offset, np.float64), linear.shape)
    value = np.broadcast_to(np.asarray(value, np.float64), constant.shape)
    part = fitted
    if part is None and linear.size:
        part = linear_part(producer, linear, slope, offset)
    new_consumers = [
        _fold_into(producer, c, site, keep, linear, part, constant, value)
        for c in consumers
    ]
    if keep.size == 0:
        return None, new_consumers
    return restrict_columns(producer, keep), new_consumers


def linear_part(
    producer: Affine,
    linear: np.ndarray,
    slope: np.ndarray | float,
    offset: np.ndarray | float,
) -> Affine:
    """The affine model of the linear neurons `J` on the producer's sources:
    `sigma(z_J) = sum_s x_s (W_s[:, J] diag(slope)) + slope b_P[J] + offset`.
    """
    terms = {k: m[..., linear] * slope for k, m in producer.terms.items()}
    bias = None
    if producer.bias is not None or np.any(offset):
        b_p = 0.0 if producer.bias is None else producer.bias[linear]
        bias = np.asarray(slope * b_p + offset)
    return Affine(terms, bias, dict(producer.geometry))


def _fold_into(producer, consumer, site, keep, linear, part, constant, value):
    w_site = consumer.terms[site]  # (*taps, n_P, out)
    terms, geometry = {}, {}
    if keep.size:
        terms[site] = w_site[..., keep, :]
    for key, matrix in consumer.terms.items():
        if key != site:
            terms[key] = matrix
    for key in terms:
        if key in consumer.geometry:
            geometry[key] = consumer.geometry[key]
    moved = []
    if linear.size:
        if w_site.ndim != 2:
            raise ValueError(
                "Linear neurons fold only into pointwise consumers. "
                f"Received: a consumer kernel of shape {w_site.shape}"
            )
        w_linear = w_site[linear]
        for key, matrix in part.terms.items():
            shortcut = matrix @ w_linear
            incoming = producer.geometry.get(key)
            if key in terms and _signature(geometry.get(key)) != _signature(incoming):
                key = term_key(source_of(key), _signature(incoming))
            if key in terms:
                terms[key] = terms[key] + shortcut
            else:
                terms[key] = shortcut
                if incoming is not None:
                    geometry[key] = incoming
        if part.bias is not None:
            moved.append(part.bias @ w_linear)
    if np.any(value):
        # Summed over the kernel taps: exact where no padding is involved.
        moved.append(input_sum(value, w_site[..., constant, :]))
    bias = consumer.bias
    for m in moved:
        bias = m if bias is None else bias + m
    return Affine(terms, bias, geometry)


def _signature(geometry):
    return None if geometry is None else geometry[1]


def norm_scale_shift(
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    mean: np.ndarray,
    variance: np.ndarray,
    epsilon: float,
) -> tuple[np.ndarray, np.ndarray]:
    """BatchNormalization at inference as `y = scale * x + shift`.

    `gamma` / `beta` may be `None` (`scale=False` / `center=False`).

    >>> norm_scale_shift(np.array([2.0]), np.array([1.0]), np.array([3.0]),
    ...                  np.array([4.0]), 0.0)
    (array([1.]), array([-2.]))
    """
    scale = 1.0 / np.sqrt(np.asarray(variance, np.float64) + epsilon)
    if gamma is not None:
        scale = scale * gamma
    shift = -scale * mean
    if beta is not None:
        shift = shift + beta
    return scale, shift


def absorb_output_affine(
    kernel: np.ndarray, bias: np.ndarray, scale: np.ndarray, shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`(x @ kernel + bias) * scale + shift` as one kernel and bias.

    The kernel's last axis is the output axis (Dense or conv layout).
    """
    bias = 0.0 if bias is None else bias
    return kernel * scale, bias * scale + shift


def absorb_input_affine(
    kernel: np.ndarray, bias: np.ndarray, scale: np.ndarray, shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`(x * scale + shift) @ kernel + bias` as one kernel and bias.

    `kernel` has shape `(..., in, out)` (Dense or conv layout); summing the
    shift over the kernel's taps is exact only where the input is not
    padded, i.e. for Dense and "valid" or pointwise convolutions.
    """
    bias = 0.0 if bias is None else bias
    moved = input_sum(shift, kernel)
    return kernel * scale[:, None], bias + moved


def input_sum(vector: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """`sum over taps t of vector @ kernel[t]` for a `(*taps, in, out)` or
    `(in, out)` kernel: the output of a constant input, away from padding.
    """
    out = np.tensordot(kernel, vector, axes=([-2], [0]))  # (*taps, out)
    return out.reshape(-1, kernel.shape[-1]).sum(axis=0)


def restrict_columns(affine: Affine, keep: np.ndarray) -> Affine:
    """Keeps only the units `keep` of a linear node."""
    terms = {key: m[..., keep] for key, m in affine.terms.items()}
    bias = None if affine.bias is None else affine.bias[keep]
    return Affine(terms, bias, dict(affine.geometry))


def prototype_saving(n_linear: int, in_width: int, out_width: int) -> int:
    """Parameters saved by folding `n_linear` neurons (docs/method.md, 2).

    `saved = |J| (in_P + out_C + 1) - in_P out_C`: each folded neuron frees
    its producer column, bias and consumer row; the shortcut costs
    `in_P * out_C`. Negative when the fold grows the model.

    >>> prototype_saving(10, 4, 4)
    74
    """
    return n_linear * (in_width + out_width + 1) - in_width * out_width


def low_rank_factors(kernel: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """`kernel` (`(*taps, in, out)`) as `down @ up` through `rank` channels.

    Exact (to float rounding) when `rank` bounds the rank of the kernel
    flattened to `(taps * in, out)`, as the planner guarantees: the range of
    `kernel @ omega` for a Gaussian `omega` with `rank` columns is then the
    kernel's range, so `Q (Q^T kernel)` with `Q` from a QR factorization
    reproduces it. That costs one thin product instead of a full SVD (0.18 s
    for the three shortcuts of the 2.8M-parameter benchmark MLP).
    """
    flat = kernel.reshape(-1, kernel.shape[-1])
    omega = np.random.default_rng(0).standard_normal((flat.shape[1], rank))
    q, _ = np.linalg.qr(flat @ omega)
    down = q.reshape(*kernel.shape[:-1], rank)
    return down, q.T @ flat
