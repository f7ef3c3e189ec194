"""Keras-free description of the graph parts that compression can change.

`sites.find_sites` reads a functional Keras graph and describes it with the
dataclasses below; the planner (`plan.py`) and the weight algebra
(`algebra.py`) only ever see these descriptions, so both can be tested with
plain Python and NumPy.

Vocabulary (see METHOD.md):

* a *linear node* is a `Dense` layer whose weights may change: the producer
  or a consumer of some fold site;
* a *source* is a tensor that feeds a linear node, named by a string key; the
  output of a fold site's activation has the site's name as key;
* a *site* is producer `Dense` -> ReLU -> one or more consumer `Dense` layers.
"""

import dataclasses
import functools
import math

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
    slope: object
    offset: float

    @property
    def is_constant(self):
        return np.all(np.asarray(self.slope) == 0)

    def value_at(self, z):
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
    pieces: tuple
    principal: int
    partition: bool = True
    monotone: bool = True

    def h_bounds(self):
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


def relu_pieces(negative_slope=0.0, max_value=None, threshold=0.0):
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


#: Separates a source key from a geometry in the key of a term that could
#: not merge with another term from the same source.
TERM_SEPARATOR = "@@"


def term_key(source, geometry):
    """Key of a term from `source` that keeps its own `geometry`."""
    return f"{source}{TERM_SEPARATOR}{geometry}"


def source_of(key):
    """The source key a term key reads from."""
    return key.split(TERM_SEPARATOR, 1)[0]


#: Plain ReLU: off (constant 0) below 0, identity above.
RELU = Activation("relu", relu_pieces(), 1)


@dataclasses.dataclass(frozen=True)
class LinearSpec:
    """A `Dense` layer taking part in at least one fold site.

    Attributes:
        name: Layer name.
        source: Key of the tensor it reads (a site name when its input is a
            site's activation, possibly through inference-identity layers).
        in_width: Width of that tensor (last axis) in the original model.
        units: Output width in the original model.
        use_bias: Whether the layer has a bias once any BatchNormalization
            is folded into it.
        pre_norms: Names of BatchNormalization layers between its source
            and itself, folded into its kernel (source side first).
        post_norm: Name of a BatchNormalization layer right after it,
            folded into its kernel and bias, or `None`.
        absorbed_params: Parameters of those normalization layers that this
            layer accounts for (each removed layer is counted once).
        had_bias: Whether the original layer has a bias (default:
            `use_bias`).
        taps: Kernel positions (1 for `Dense` and pointwise convs).
        parts: For a layer reading a `Concatenate` of site activations and
            other tensors: `(key, width)` per concatenated input, in order
            (`source` is then the first part's key); empty otherwise.
        geometry: Signature of how its kernel is applied ("dense", or the
            conv type, kernel size, strides, padding, dilation and data
            format). Terms from the same source merge only with the same
            geometry; otherwise the incoming one is kept under
            `term_key(source, geometry)`.
    """

    name: str
    source: str
    in_width: int
    units: int
    use_bias: bool
    pre_norms: tuple = ()
    post_norm: str = None
    absorbed_params: int = 0
    had_bias: bool = None
    taps: int = 1
    parts: tuple = ()
    geometry: str = "dense"

    @property
    def inputs(self):
        """`(key, width)` of each block of input rows: the parts of a
        concatenated input, or the single source."""
        return self.parts or ((self.source, self.in_width),)

    @property
    def params(self):
        """Parameters in the original model: the layer (kernel + bias) and
        the normalization layers it absorbs."""
        had_bias = self.use_bias if self.had_bias is None else self.had_bias
        return self.units * (self.taps * self.in_width + int(had_bias)) + (
            self.absorbed_params)


@dataclasses.dataclass(frozen=True)
class SiteSpec:
    """A fold site: producer -> activation -> consumers.

    Attributes:
        name: Site key; equal to the name of the layer whose output is the
            activation tensor (the producer itself for an inline activation).
        producer: Name of the producer `LinearSpec`.
        consumers: Names of the consumer `LinearSpec`s, in graph order.
        width: Number of neurons (the producer's units).
        activation: The site's piecewise-linear `Activation` (ReLU unless
            given).
        channel_params: Parameters per neuron of the activation layer
            (PReLU's slopes), removed with the neuron.
        linear_block: Why linear neurons cannot fold here (a consumer with
            a spatial kernel), or empty.
        nonzero_constants: Whether neurons stuck at a non-zero constant can
            be moved into the consumers' bias (not through a padded
            spatial kernel).
    """

    name: str
    producer: str
    consumers: tuple
    width: int
    activation: Activation = None
    channel_params: int = 0
    linear_block: str = ""
    nonzero_constants: bool = True

    def __post_init__(self):
        if self.activation is None:
            object.__setattr__(self, "activation", RELU)


@dataclasses.dataclass(frozen=True)
class Rejection:
    """A candidate site that cannot be folded, with the reason.

    Attributes:
        name: Site key (activation tensor's layer name).
        producer: Name of the layer that computes the pre-activation.
        width: Number of neurons, or 0 when unknown.
        reason: Human-readable reason, shown in the report.
    """

    name: str
    producer: str
    width: int
    reason: str


@dataclasses.dataclass(frozen=True)
class GraphSpec:
    """Everything the planner needs to know about a model.

    Attributes:
        linears: Mapping from layer name to `LinearSpec`, in graph order.
        sites: Foldable sites in topological order of their producers.
        rejected: Candidate sites that cannot be folded.
        total_params: `count_params()` of the original model.
        absorbed: Names of BatchNormalization layers folded into a linear
            node (they disappear from the rebuilt graph).
        bypassed: Names of `Concatenate` layers whose readers now read
            the parts directly (they disappear too).
    """

    linears: dict
    sites: tuple
    rejected: tuple
    total_params: int
    absorbed: tuple = ()
    bypassed: tuple = ()

    @functools.cached_property
    def fixed_params(self):
        """Parameters of every layer the planner never changes."""
        return (
            self.total_params
            - sum(s.params for s in self.linears.values())
            - sum(s.channel_params * s.width for s in self.sites)
        )
