"""Finds the fold sites of a functional graph.

A site is `Dense` -> ReLU (inline `activation="relu"`, a `ReLU()` layer with
default arguments, or `Activation("relu")`) -> one or more `Dense`
consumers, possibly through layers that are the identity at inference
(`Dropout` and friends). Every other `Dense` followed by an activation is a
*candidate* that is rejected with a reason the report shows.

`find_sites` returns a Keras-free `GraphSpec` for the planner plus the Keras
objects (`SiteBinding`) that measurement and rebuild need.
"""

import dataclasses

import keras

from keras_linprune import activations as activations_lib
from keras_linprune import graph as graph_lib
from keras_linprune import ops
from keras_linprune.spec import GraphSpec, LinearSpec, Rejection, SiteSpec

#: Layers that are the identity at inference time.
IDENTITY_LAYERS = (
    keras.layers.Dropout,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Identity,
)

_LINEAR = keras.activations.linear

#: Layer types that rebuild understands; anything else is copied unchanged
#: and named in the report.
_KNOWN = (keras.layers.InputLayer, keras.layers.Dense) + ops.CONV_TYPES + (
    activations_lib.ACTIVATION_LAYERS + IDENTITY_LAYERS
)


@dataclasses.dataclass(frozen=True)
class SiteBinding:
    """Keras objects of one site.

    Attributes:
        tensor: The activation's output (the source of shortcuts in
            chains).
        measured: The tensor whose pieces are counted: the activation's
            input `z` for an activation layer, its output for an inline
            activation.
        on_output: Whether `measured` is the activation's output.
        producer: The producer `Dense` layer.
        activation_layer: The separate activation layer, or `None`.
        channel_axis: Axis of the neurons (channels) in `measured`.
    """

    tensor: object
    measured: object
    on_output: bool
    producer: object
    activation_layer: object = None
    channel_axis: int = -1


@dataclasses.dataclass(frozen=True)
class FoundSites:
    """Result of `find_sites`.

    Attributes:
        spec: Keras-free `GraphSpec` for the planner.
        bindings: Mapping from site key to `SiteBinding`.
        unchanged: `(layer name, class name)` of layers the engine does not
            understand; they are copied unchanged.
    """

    spec: GraphSpec
    bindings: dict
    unchanged: tuple


def is_foldable_norm(layer, calls, channel_axis=-1):
    """A BatchNormalization over `channel_axis`, called once."""
    if type(layer) is not keras.layers.BatchNormalization or calls > 1:
        return False
    rank = len(layer.input.shape)
    axis = layer.axis % rank
    return axis == channel_axis % rank


def find_sites(fn):
    """Describes the fold sites of the functional model `fn`.

    Args:
        fn: A functional `keras.Model` (see `graph.functional_graph`).

    Returns:
        A `FoundSites`.

    Example:

    >>> import keras
    >>> x = keras.Input((4,))
    >>> h = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    >>> y = keras.layers.Dense(1, name="out")(h)
    >>> found = find_sites(keras.Model(x, y))
    >>> [(s.name, s.consumers) for s in found.spec.sites]
    [('hidden', ('out',))]
    """
    finder = _Finder(fn)
    for node in finder.nodes:
        if ops.is_linear_op(node.operation):
            finder.visit_linear(node)
    spec = GraphSpec(
        linears=finder.linears,
        sites=tuple(finder.sites),
        rejected=tuple(finder.rejected),
        total_params=int(fn.count_params()),
        absorbed=tuple(finder.absorbed),
    )
    unchanged = tuple(
        (node.operation.name, type(node.operation).__name__)
        for node in finder.nodes
        if not isinstance(node.operation, _KNOWN)
        and node.operation.name not in finder.absorbed
    )
    return FoundSites(spec, finder.bindings, unchanged)


def _consumer_problem(layer, single, axis, norms):
    """Why `layer` cannot consume a site's activation, or ""."""
    kind = type(layer).__name__
    if not ops.is_linear_op(layer):
        return (f"consumer '{layer.name}' ({kind}) is not a Dense or Conv "
                "layer")
    if not single:
        return f"consumer '{layer.name}' ({kind}) is shared"
    if ops.channel_axis(layer) != axis:
        return (f"consumer '{layer.name}' ({kind}) does not read the "
                "channel axis")
    if norms and not ops.is_pointwise(layer) and layer.padding != "valid":
        return (f"normalization '{norms[-1]}' cannot be folded into the "
                f"padded kernel of consumer '{layer.name}'")
    return ""


class _Finder:
    def __init__(self, fn):
        self.nodes = graph_lib.ordered_nodes(fn)
        self.consumers = graph_lib.consumers_by_tensor(self.nodes)
        self.calls = graph_lib.call_counts(self.nodes)
        self.outputs = {id(t) for t in fn.outputs}
        self.layers = {n.operation.name: n.operation for n in self.nodes}
        self.canonical = {}  # id(tensor) -> site key, through identities
        self.linears = {}
        self.sites = []
        self.rejected = []
        self.bindings = {}
        self.absorbed = {}  # norm layer name -> its parameter count

    def visit_linear(self, node):
        layer = node.operation
        found = self._activation_of(node)
        if found is None:
            return
        tensor, measured, act_layer, activation, post_norm = found
        key = graph_lib.tensor_key(tensor)
        width = ops.out_channels(layer)
        axis = ops.channel_axis(layer)
        problem = activation if isinstance(activation, str) else None
        if problem is None and id(tensor) in self.outputs:
            problem = "its activation is a model output"
        if problem is None and self.calls[id(layer)] > 1:
            problem = (
                f"layer '{layer.name}' is shared (called "
                f"{self.calls[id(layer)]} times)"
            )
        if problem is None and act_layer is not None and (
                self.calls[id(act_layer)] > 1):
            problem = f"activation layer '{act_layer.name}' is shared"
        consumers, identities = [], []
        if problem is None:
            consumers, identities, problem = self._consumers_of(tensor, axis)
        if problem is not None:
            self.rejected.append(Rejection(key, layer.name, width, problem))
            return
        self._add_linear(
            node, post_norm=None if post_norm is None else post_norm.name)
        for consumer, norms in consumers:
            self._add_linear(consumer, source=key, pre_norms=norms)
        for t in identities:
            self.canonical[id(t)] = key
        self.canonical[id(tensor)] = key
        channel_params = 0
        if act_layer is not None and act_layer.count_params():
            channel_params = act_layer.count_params() // width
        spatial = [c.operation for c, _ in consumers
                   if not ops.is_pointwise(c.operation)]
        block = ""
        if spatial:
            c = spatial[0]
            block = (
                f"consumer '{c.name}' has a {ops.kernel_size_text(c)} kernel "
                f"with strides {c.strides}: only constant channels are removed"
            )
        self.sites.append(SiteSpec(
            key, layer.name, tuple(c.operation.name for c, _ in consumers),
            width, activation, channel_params, block,
            all(c.padding == "valid" for c in spatial),
        ))
        self.bindings[key] = SiteBinding(
            tensor, measured, act_layer is None, layer, act_layer, axis
        )

    def _activation_of(self, node):
        """`(output, measured, layer, Activation or reason, norm layer)`.

        `layer` is the activation layer (`None` when inline), `norm layer`
        a BatchNormalization between the `Dense` and the activation (or
        `None`). Returns `None` when no activation follows the `Dense`.
        """
        layer = node.operation
        out = node.outputs[0]
        units = ops.out_channels(layer)
        axis = ops.channel_axis(layer)
        if layer.activation is not _LINEAR:
            act = activations_lib.describe_function(layer.activation,
                                                    on_output=True)
            if not isinstance(act, str) and not act.monotone:
                act = (f"activation '{act.name}' cannot be measured on its "
                       "output; use an activation layer")
            return out, out, None, act, None
        norm = None
        reader = self._single_reader(out)
        if reader is not None and is_foldable_norm(
                reader.operation, self.calls[id(reader.operation)], axis):
            norm = reader.operation
            out = reader.outputs[0]
            reader = self._single_reader(out)
        if reader is None:
            return None
        act_layer = reader.operation
        if not isinstance(act_layer, activations_lib.ACTIVATION_LAYERS):
            return None
        act = activations_lib.describe_layer(act_layer, units, axis)
        return reader.outputs[0], out, act_layer, act, norm

    def _single_reader(self, tensor):
        readers = self.consumers.get(id(tensor), [])
        if len(readers) != 1 or id(tensor) in self.outputs:
            return None
        return readers[0]

    def _consumers_of(self, tensor, axis):
        """`(consumers, identity outputs, problem or None)`.

        Each consumer is `(node, norms)`: the BatchNormalization layers on
        its path, which it will absorb. `axis` is the channel axis.
        """
        found, identities, frontier = [], [], [(tensor, ())]
        while frontier:
            t, norms = frontier.pop(0)
            for node in self.consumers.get(id(t), []):
                layer = node.operation
                calls = self.calls[id(layer)]
                single = calls == 1
                is_norm = is_foldable_norm(layer, calls, axis)
                if (isinstance(layer, IDENTITY_LAYERS) and single) or is_norm:
                    out = node.outputs[0]
                    if id(out) in self.outputs:
                        return [], [], "its activation is a model output"
                    identities.append(out)
                    frontier.append(
                        (out, norms + (layer.name,) if is_norm else norms))
                    continue
                problem = _consumer_problem(layer, single, axis, norms)
                if problem:
                    return [], [], problem
                found.append((node, norms))
        if not found:
            return [], [], "its activation has no Dense or Conv consumer"
        return found, identities, None

    def _add_linear(self, node, source=None, pre_norms=(), post_norm=None):
        """Registers a `Dense` (idempotent); `post_norm` is a layer name."""
        layer = node.operation
        absorbed = 0
        for name in (*pre_norms, post_norm):
            if name is not None and name not in self.absorbed:
                self.absorbed[name] = self.layers[name].count_params()
                absorbed += self.absorbed[name]
        if layer.name in self.linears:
            old = self.linears[layer.name]
            self.linears[layer.name] = dataclasses.replace(
                old, post_norm=post_norm or old.post_norm,
                use_bias=old.use_bias or post_norm is not None,
                absorbed_params=old.absorbed_params + absorbed,
            )
            return
        tensor = node.input_tensors[0]
        if source is None:
            source = self.canonical.get(id(tensor), graph_lib.tensor_key(tensor))
        self.linears[layer.name] = LinearSpec(
            layer.name, source, int(tensor.shape[ops.channel_axis(layer)]),
            ops.out_channels(layer),
            bool(layer.use_bias) or bool(pre_norms) or post_norm is not None,
            tuple(pre_norms), post_norm, absorbed, bool(layer.use_bias),
            ops.taps(layer),
        )
