"""Weight algebra of a fold, in plain NumPy (METHOD.md sections 3, 4 and 7).

A linear node is held as an `Affine`: its pre-activation is

    z = sum over sources s of  x_s @ terms[s]  +  bias

with every matrix in Keras layout (rows = source features, columns = the
node's units). Folding a site moves the linear neurons' contributions from
the producer's terms onto each consumer, then drops those neurons' rows and
columns. Chains compose because the producer's terms may already hold
shortcuts from earlier folds (METHOD.md section 4): each is carried along and
merged with any term that shares its source.

Example:

>>> import numpy as np
>>> p = Affine({"x": np.eye(2)}, np.zeros(2))
>>> c = Affine({"h": np.ones((2, 1))}, np.zeros(1))
>>> p2, c2 = fold_site(p, [c], "h", linear=[0], keep=[1])
>>> sorted(c2[0].terms), p2.terms["x"].shape
(['h', 'x'], (2, 1))
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Affine:
    """Pre-activation of a linear node as a sum of per-source matrices.

    Attributes:
        terms: Mapping from source key to a `(source_width, units)` matrix.
            Insertion order is kept: it is the order the layers are emitted.
        bias: Vector of length `units`, or `None` for a layer without bias.
    """

    terms: dict
    bias: object = None

    @property
    def units(self):
        return next(iter(self.terms.values())).shape[1]

    @property
    def params(self):
        """Parameters this node costs when emitted (matrices + bias)."""
        count = sum(m.size for m in self.terms.values())
        return count + (0 if self.bias is None else self.bias.size)


def fold_site(producer, consumers, site, linear, keep):
    """Folds the linear neurons of one site and drops the others.

    Neurons of the producer that are in neither `linear` nor `keep` are
    removed outright: for ReLU they are dead (constant 0 on the data), so
    they contribute nothing to the consumers.

    Args:
        producer: `Affine` of the producer layer.
        consumers: List of `Affine`s of the consumer layers; each has a term
            keyed `site` of shape `(producer.units, units_c)`.
        site: Key of the site's activation tensor in the consumers' terms.
        linear: Indices `J` of neurons in the identity piece on all data.
        keep: Indices `K` of neurons that stay in the producer.

    Returns:
        `(new_producer, new_consumers)`; the producer keeps columns `keep`
        (`None` when `keep` is empty: the layer disappears) and every
        consumer gets the shortcut `W_P[:, J] @ W_C[J]` for each producer
        source plus bias `b_P[J] @ W_C[J]`.

    Example:

    >>> p = Affine({"x": np.array([[1.0, 2.0]])}, np.array([0.5, -1.0]))
    >>> c = Affine({"h": np.array([[3.0], [4.0]])}, np.array([0.0]))
    >>> p2, (c2,) = fold_site(p, [c], "h", linear=[0], keep=[1])
    >>> c2.terms["x"], c2.bias
    (array([[3.]]), array([1.5]))
    """
    linear = np.asarray(linear, dtype=np.int64)
    keep = np.asarray(keep, dtype=np.int64)
    new_consumers = [
        _fold_into(producer, c, site, linear, keep) for c in consumers
    ]
    if keep.size == 0:
        return None, new_consumers
    return restrict_columns(producer, keep), new_consumers


def _fold_into(producer, consumer, site, linear, keep):
    w_site = consumer.terms[site]
    terms = {}
    if keep.size:
        terms[site] = w_site[keep]
    for key, matrix in consumer.terms.items():
        if key != site:
            terms[key] = matrix
    bias = consumer.bias
    if linear.size:
        w_linear = w_site[linear]
        for key, matrix in producer.terms.items():
            shortcut = matrix[:, linear] @ w_linear
            terms[key] = terms[key] + shortcut if key in terms else shortcut
        if producer.bias is not None:
            moved = producer.bias[linear] @ w_linear
            bias = moved if bias is None else bias + moved
    return Affine(terms, bias)


def restrict_columns(affine, keep):
    """Keeps only the units `keep` of a linear node."""
    terms = {key: m[:, keep] for key, m in affine.terms.items()}
    bias = None if affine.bias is None else affine.bias[keep]
    return Affine(terms, bias)


def prototype_saving(n_linear, in_width, out_width):
    """Parameters saved by folding `n_linear` neurons (METHOD.md section 3).

    `saved = |J| (in_P + out_C + 1) - in_P out_C`: each folded neuron frees
    its producer column, bias and consumer row; the shortcut costs
    `in_P * out_C`. Negative when the fold grows the model.

    >>> prototype_saving(10, 4, 4)
    74
    """
    return n_linear * (in_width + out_width + 1) - in_width * out_width
