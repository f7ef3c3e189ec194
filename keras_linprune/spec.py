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


@dataclasses.dataclass(frozen=True)
class LinearSpec:
    """A `Dense` layer taking part in at least one fold site.

    Attributes:
        name: Layer name.
        source: Key of the tensor it reads (a site name when its input is a
            site's activation, possibly through inference-identity layers).
        in_width: Width of that tensor (last axis) in the original model.
        units: Output width in the original model.
        use_bias: Whether the original layer has a bias.
    """

    name: str
    source: str
    in_width: int
    units: int
    use_bias: bool

    @property
    def params(self):
        """Parameters of the original layer (kernel + bias)."""
        return self.units * (self.in_width + int(self.use_bias))


@dataclasses.dataclass(frozen=True)
class SiteSpec:
    """A fold site: producer -> activation -> consumers.

    Attributes:
        name: Site key; equal to the name of the layer whose output is the
            activation tensor (the producer itself for an inline activation).
        producer: Name of the producer `LinearSpec`.
        consumers: Names of the consumer `LinearSpec`s, in graph order.
        width: Number of neurons (the producer's units).
        activation: Activation kind; `"relu"` in this version.
    """

    name: str
    producer: str
    consumers: tuple
    width: int
    activation: str = "relu"


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
    """

    linears: dict
    sites: tuple
    rejected: tuple
    total_params: int

    @property
    def fixed_params(self):
        """Parameters of every layer the planner never changes."""
        return self.total_params - sum(s.params for s in self.linears.values())

    def site(self, name):
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)
