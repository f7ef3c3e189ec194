"""Keras-free description of the graph parts that compression can change.

`graph.sites.find_sites` reads a functional Keras graph and describes it
with the dataclasses below; the planner (`plan/`) and the weight algebra
(`core/algebra.py`) only ever see these descriptions, so both can be tested
with plain Python and NumPy.

Vocabulary (docs/method.md):

* a *linear node* is a layer with a kernel (`Dense`, a convolution) whose
  weights may change: the producer or a consumer of some fold site;
* a *source* is a tensor that feeds a linear node, named by a string key; the
  output of a fold site's activation has the site's name as key;
* a *site* is producer -> piecewise-linear activation -> one or more
  consumers.
"""

import dataclasses
import functools

from keras_linprune.core.pieces import RELU, Activation

#: Separates a source key from a geometry in the key of a term that could
#: not merge with another term from the same source.
TERM_SEPARATOR = "@@"


def term_key(source: str, geometry: str | None) -> str:
    """Key of a term from `source` that keeps its own `geometry`."""
    return f"{source}{TERM_SEPARATOR}{geometry}"


def source_of(key: str) -> str:
    """The source key a term key reads from."""
    return key.split(TERM_SEPARATOR, 1)[0]


#: The geometry of a plain `Dense` kernel (a matrix product per position).
DENSE = "dense"


def flattened(geometry: str, taps: int | str) -> str:
    """The geometry of a layer of `geometry` reading a site's activation
    through a `Flatten`, one tap per flattened position."""
    return f"{geometry}:flattened{taps}"


def shares_kernel(term_geometry: str, node_geometry: str) -> bool:
    """Whether a full term applied with `term_geometry` can be a block of
    the kernel of a node applied with `node_geometry`, the node reading the
    concatenation of their inputs: the same geometry, or a `Dense` reading
    a `Flatten` into a plain `Dense` (both a matrix product of the 2-D rows
    they read; the term's `(taps, in, out)` kernel is its `(taps * in,
    out)` block). A term that cannot is emitted on its own, or low-rank
    through channels of the node's geometry."""
    if term_geometry == node_geometry:
        return True
    return node_geometry == DENSE and term_geometry.startswith(flattened(DENSE, ""))


@dataclasses.dataclass(frozen=True)
class LinearSpec:
    """A linear layer taking part in at least one fold site.

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
        post_norms: Names of the affine layers right after it (an
            inference-mode BatchNormalization, `x * c + d` operations),
            folded into its kernel and bias, in graph order.
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
        pointwise: Whether the kernel mixes channels only, position by
            position (`Dense`, a 1x1 convolution with stride 1): a term of
            another geometry is then always emitted low-rank, its second
            half joining this layer's kernel (no `Add`).
        positions: Positions its kernel is applied at per example, summed
            over its calls (output positions; a transposed convolution's
            input positions), or `None` when a spatial size is unknown.
            Multiply-accumulates are `positions` times the kernel size.
    """

    name: str
    source: str
    in_width: int
    units: int
    use_bias: bool
    pre_norms: tuple = ()
    post_norms: tuple = ()
    absorbed_params: int = 0
    had_bias: bool | None = None
    taps: int = 1
    parts: tuple = ()
    geometry: str = "dense"
    pointwise: bool = True
    positions: int = 1

    @property
    def inputs(self) -> tuple[tuple[str, int], ...]:
        """`(key, width)` of each block of input rows: the parts of a
        concatenated input, or the single source."""
        return self.parts or ((self.source, self.in_width),)

    @property
    def params(self) -> int:
        """Parameters in the original model: the layer (kernel + bias) and
        the normalization layers it absorbs."""
        had_bias = self.use_bias if self.had_bias is None else self.had_bias
        return self.units * (self.taps * self.in_width + int(had_bias)) + (
            self.absorbed_params
        )

    @property
    def macs(self) -> int | None:
        """Multiply-accumulates per example in the original model."""
        if self.positions is None:
            return None
        return self.positions * self.units * self.taps * self.in_width


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
        dead_reach_as_constants: Whether dead neurons reach the consumers
            as constants that may be non-zero (through a depthwise
            convolution's bias): removing any gives the consumers a bias.
        channel_macs: Multiply-accumulates per example and neuron in the
            layers narrowed with the site (a depthwise convolution after it,
            a separable one reading it), or `None` when unknown.
    """

    name: str
    producer: str
    consumers: tuple[str, ...]
    width: int
    activation: Activation = RELU
    channel_params: int = 0
    linear_block: str = ""
    nonzero_constants: bool = True
    dead_reach_as_constants: bool = False
    channel_macs: int = 0

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
        total_macs: Multiply-accumulates per example of the original
            model's kernels (Dense, convolutions of every kind), or `None`
            when a spatial size is unknown.
    """

    linears: dict[str, LinearSpec]
    sites: tuple[SiteSpec, ...]
    rejected: tuple[Rejection, ...]
    total_params: int
    absorbed: tuple = ()
    bypassed: tuple = ()
    total_macs: int | None = None

    @functools.cached_property
    def fixed_params(self) -> int:
        """Parameters of every layer the planner never changes."""
        return (
            self.total_params
            - sum(s.params for s in self.linears.values())
            - sum(s.channel_params * s.width for s in self.sites)
        )

    @functools.cached_property
    def source_widths(self) -> dict[str, int]:
        """Source key -> its width in the original model (the rows it
        gives every linear node reading it)."""
        return {k: w for lin in self.linears.values() for k, w in lin.inputs}

    @functools.cached_property
    def fixed_macs(self) -> int | None:
        """Multiply-accumulates of every layer the planner never changes,
        or `None` when unknown."""
        linear_macs = [s.macs for s in self.linears.values()]
        known = [m for m in linear_macs if m is not None]
        if self.total_macs is None or len(known) < len(linear_macs):
            return None
        if any(s.channel_macs is None for s in self.sites):
            return None
        return (
            self.total_macs
            - sum(known)
            - sum(s.channel_macs * s.width for s in self.sites)
        )
