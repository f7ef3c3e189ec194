"""Finds the fold sites of a functional graph.

A site is a linear layer (`Dense`, or `ConvND` with `groups=1`), optionally
followed by a BatchNormalization, then a piecewise-linear activation
(`activations.py`), then one or more `Dense` or `ConvND` consumers reading
the channel axis, possibly through layers that are the identity at
inference (`Dropout` and friends) or BatchNormalization. A layer called at
several places forms one site over all its calls. Every other linear layer
followed by an activation is a *candidate* that is rejected with a reason
the report shows.

`find_sites` returns a Keras-free `GraphSpec` for the planner plus the Keras
objects (`SiteBinding`, per-call environments) that measurement and rebuild
need.
"""

import collections
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

#: Channel-wise layers that map an all-zero channel to zero (and a constant
#: one to a constant, except zero padding): dead channels can be removed
#: through them, but they are not affine, so linear neurons cannot fold.
PASS_THROUGH = (
    keras.layers.MaxPooling1D, keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D, keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D, keras.layers.AveragePooling3D,
    keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D,
    keras.layers.ZeroPadding3D,
)
_ZERO_PADDING = (keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D,
                 keras.layers.ZeroPadding3D)

#: Layer types that rebuild understands; anything else is copied unchanged
#: and named in the report.
_KNOWN = (keras.layers.InputLayer, keras.layers.Dense) + ops.CONV_TYPES + (
    activations_lib.ACTIVATION_LAYERS + IDENTITY_LAYERS
)


@dataclasses.dataclass(frozen=True)
class SiteBinding:
    """Keras objects of one site.

    Attributes (one tensor per call of a shared producer):
        tensor: The activation's outputs (the source of shortcuts in
            chains).
        measured: The tensors whose pieces are counted: the activation's
            input `z` for an activation layer, its output for an inline
            activation.
        on_output: Whether `measured` is the activation's output.
        producer: The producer `Dense` layer.
        activation_layer: The separate activation layer, or `None`.
        channel_axis: Axis of the neurons (channels) in `measured`.
        nodes: The producer's call nodes.
    """

    tensor: object
    measured: object
    on_output: bool
    producer: object
    activation_layer: object = None
    channel_axis: int = -1
    nodes: tuple = ()


@dataclasses.dataclass(frozen=True)
class FoundSites:
    """Result of `find_sites`.

    Attributes:
        spec: Keras-free `GraphSpec` for the planner.
        bindings: Mapping from site key to `SiteBinding`.
        unchanged: `(layer name, class name)` of layers the engine does not
            understand; they are copied unchanged.
        env: Mapping from `id(node)` of each call of a linear node to
            `{source key: original tensor}`: what each key of its terms
            reads at that call (shared layers read different tensors).
    """

    spec: GraphSpec
    bindings: dict
    unchanged: tuple
    env: dict


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
    seen = set()
    for node in finder.nodes:
        layer = node.operation
        if ops.is_linear_op(layer) and id(layer) not in seen:
            seen.add(id(layer))
            finder.visit_layer(layer)
    finder.finalize_parts()
    spec = GraphSpec(
        linears=finder.linears,
        sites=tuple(finder.sites),
        rejected=tuple(finder.rejected),
        total_params=int(fn.count_params()),
        absorbed=tuple(finder.absorbed),
        bypassed=tuple(sorted(finder.bypassed)),
    )
    unchanged = tuple(
        (node.operation.name, type(node.operation).__name__)
        for node in finder.nodes
        if not isinstance(node.operation, _KNOWN)
        and node.operation.name not in finder.absorbed
        and node.operation.name not in finder.bypassed
    )
    return FoundSites(spec, finder.bindings, unchanged, finder.env)


def _same_format(layer, axis):
    """Whether a pooling/padding layer keeps channels on `axis`."""
    data_format = getattr(layer, "data_format", "channels_last")
    return (axis == 1) == (data_format == "channels_first")


def _consumer_problem(layer, axis, norms):
    """Why `layer` cannot consume a site's activation, or ""."""
    kind = type(layer).__name__
    if not ops.is_linear_op(layer):
        return (f"consumer '{layer.name}' ({kind}) is not a Dense or Conv "
                "layer")
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
        self.calls_of = collections.defaultdict(list)  # id(layer) -> nodes
        for node in self.nodes:
            self.calls_of[id(node.operation)].append(node)
        self.outputs = {id(t) for t in fn.outputs}
        self.layers = {n.operation.name: n.operation for n in self.nodes}
        self.canonical = {}  # id(tensor) -> site key, through identities
        self.env = {}  # id(linear node) -> {source key: original tensor}
        self.linears = {}
        self.sites = []
        self.rejected = []
        self.bindings = {}
        self.absorbed = {}  # norm layer name -> its parameter count
        self.concat_of = {}  # id(reader node) -> the Concatenate node it reads
        self.pending_concat = {}  # the same, for the site being examined
        self.pending_via = {}  # id(consumer node) -> pass-through layers
        self.reader_node = {}  # linear layer name -> its (single) node
        self.bypassed = set()  # Concatenate layers no longer needed

    def visit_layer(self, layer):
        """Finds the site of a linear layer over all of its call nodes."""
        nodes = self.calls_of[id(layer)]
        self.pending_concat = {}
        self.pending_via = {}
        found = [self._activation_of(node) for node in nodes]
        if all(f is None for f in found):
            return
        # Named after the first call (node index 0), like a single call.
        first = min((f for f in found if f is not None),
                    key=lambda f: f[0]._keras_history.node_index)
        key = graph_lib.tensor_key(first[0])
        width = ops.out_channels(layer)
        axis = ops.channel_axis(layer)
        problem = self._calls_problem(layer, found)
        consumers, identities = [], []  # per call
        if problem is None:
            for tensor, *_ in found:
                c, ids, problem = self._consumers_of(tensor, axis)
                if problem:
                    break
                consumers.append(c)
                identities.extend(ids)
        if problem is None:
            problem = self._lockstep_problem(layer, consumers)
        if problem is not None:
            self.rejected.append(Rejection(key, layer.name, width, problem))
            return
        _, _, act_layer, activation, post_norm = first
        self._add_linear(
            nodes, post_norm=None if post_norm is None else post_norm.name)
        names = []
        for node, (tensor, *_), call_consumers in zip(nodes, found, consumers):
            for consumer, norms in call_consumers:
                if id(consumer) in self.pending_concat:
                    self.concat_of[id(consumer)] = self.pending_concat[
                        id(consumer)]
                self._add_linear([consumer], source=key, pre_norms=norms)
                # The site's key reads the consumer's own input when it
                # passes through pooling or padding (not the activation).
                reads = (consumer.input_tensors[0]
                         if id(consumer) in self.pending_via else tensor)
                self.env[id(consumer)] = {**self.env.get(id(consumer), {}),
                                          **self.env[id(node)], key: reads}
                if consumer.operation.name not in names:
                    names.append(consumer.operation.name)
            self.canonical[id(tensor)] = key
        for t in identities:
            self.canonical[id(t)] = key
        channel_params = 0
        if act_layer is not None and act_layer.count_params():
            channel_params = act_layer.count_params() // width
        spatial = [self.layers[n] for n in names
                   if not ops.is_pointwise(self.layers[n])]
        via = [v for call in consumers for c, _ in call
               for v in self.pending_via.get(id(c), ())]
        block = ""
        if spatial:
            c = spatial[0]
            block = (
                f"consumer '{c.name}' has a {ops.kernel_size_text(c)} kernel "
                f"with strides {c.strides}: only constant channels are removed"
            )
        elif via:
            block = (f"'{via[0].name}' ({type(via[0]).__name__}) sits before "
                     "the consumers: only constant channels are removed")
        constants_ok = all(c.padding == "valid" for c in spatial) and not any(
            isinstance(v, _ZERO_PADDING) for v in via)
        self.sites.append(SiteSpec(
            key, layer.name, tuple(names), width, activation, channel_params,
            block, constants_ok,
        ))
        self.bindings[key] = SiteBinding(
            tuple(f[0] for f in found), tuple(f[1] for f in found),
            act_layer is None, layer, act_layer, axis, tuple(nodes),
        )

    def _calls_problem(self, layer, found):
        """Why the call sites of `layer` cannot form one site, or `None`."""
        for i, f in enumerate(found):
            if f is None:
                return (f"layer '{layer.name}' is shared and its call {i} is "
                        "not followed by an activation")
            tensor, _, act_layer, activation, norm = f
            if isinstance(activation, str):
                return activation
            if id(tensor) in self.outputs:
                return "its activation is a model output"
            if len(found) > 1 and norm is not None:
                return (f"normalization '{norm.name}' follows a shared layer "
                        "(one per call site cannot be folded into it)")
        act_layers = [f[2] for f in found]
        same = all(a is act_layers[0] for a in act_layers)
        if same and act_layers[0] is not None:
            if self.calls[id(act_layers[0])] != len(found):
                return (f"activation layer '{act_layers[0].name}' is shared "
                        "with other layers")
        elif not same:
            configs = {_config_without_name(a) for a in act_layers}
            weighted = any(a is not None and a.weights for a in act_layers)
            if len(configs) > 1 or weighted or any(
                    self.calls[id(a)] > 1 for a in act_layers if a):
                return (f"layer '{layer.name}' is shared and its call sites "
                        "use different activations")
        return None

    def _lockstep_problem(self, layer, consumers):
        """A shared consumer must read this site's activation at every call."""
        nodes = {id(c) for call in consumers for c, _ in call}
        if len(nodes) < sum(len({id(c) for c, _ in call})
                            for call in consumers):
            return (f"a consumer reads several calls of shared layer "
                    f"'{layer.name}' (through a Concatenate)")
        for call in consumers:
            for consumer, norms in call:
                other = self.calls_of[id(consumer.operation)]
                if any(id(n) not in nodes for n in other):
                    return (f"consumer '{consumer.operation.name}' is shared "
                            f"with inputs other than '{layer.name}'")
                if norms and (len(consumers) > 1 or len(other) > 1):
                    return (f"normalization '{norms[-1]}' sits between shared "
                            "layers")
        return None

    def _activation_of(self, node):
        """`(output, measured, layer, Activation or reason, norm layer)`.

        `layer` is the activation layer (`None` when inline), `norm layer`
        a BatchNormalization between the linear layer and the activation
        (or `None`). Returns `None` when no activation follows.
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
        found, identities, frontier = [], [], [(tensor, (), ())]
        while frontier:
            t, norms, via = frontier.pop(0)
            for node in self.consumers.get(id(t), []):
                layer = node.operation
                is_norm = is_foldable_norm(layer, self.calls[id(layer)], axis)
                if isinstance(layer, PASS_THROUGH) and _same_format(
                        layer, axis):
                    out = node.outputs[0]
                    if id(out) in self.outputs:
                        return [], [], "its activation is a model output"
                    frontier.append((out, norms, via + (layer,)))
                    continue
                if isinstance(layer, IDENTITY_LAYERS) or is_norm:
                    out = node.outputs[0]
                    if id(out) in self.outputs:
                        return [], [], "its activation is a model output"
                    if not via:  # still the activation's value
                        identities.append(out)
                    frontier.append(
                        (out, norms + (layer.name,) if is_norm else norms,
                         via))
                    continue
                if isinstance(layer, keras.layers.Concatenate):
                    if via:
                        return [], [], (f"'{via[0].name}' sits before "
                                        f"'{layer.name}' (Concatenate)")
                    readers, problem = self._through_concat(node, axis, norms)
                    if problem:
                        return [], [], problem
                    found.extend((r, ()) for r in readers)
                    continue
                problem = _consumer_problem(layer, axis, norms)
                if problem:
                    return [], [], problem
                if via:
                    self.pending_via[id(node)] = via
                found.append((node, norms))
        if not found:
            return [], [], "its activation has no Dense or Conv consumer"
        return found, identities, None

    def _through_concat(self, node, axis, norms):
        """Linear readers of a channel `Concatenate`: `(nodes, problem)`.

        Each reader's kernel splits into one block of rows per
        concatenated input, so a site feeding the concatenation folds into
        its block like into a plain consumer.
        """
        layer = node.operation
        out = node.outputs[0]
        rank = len(out.shape)
        if self.calls[id(layer)] > 1 or layer.axis % rank != axis % rank:
            return [], (f"consumer '{layer.name}' (Concatenate) is shared or "
                        "does not join channels")
        if norms:
            return [], (f"normalization '{norms[-1]}' sits before "
                        f"'{layer.name}' (Concatenate)")
        if id(out) in self.outputs:
            return [], "its activation reaches a model output"
        readers = self.consumers.get(id(out), [])
        for reader in readers:
            problem = _consumer_problem(reader.operation, axis, ())
            if not problem and self.calls[id(reader.operation)] > 1:
                problem = (f"consumer '{reader.operation.name}' is shared "
                           "and reads a Concatenate")
            if problem:
                return [], (f"{problem} (after '{layer.name}', a "
                            "Concatenate)")
        if not readers:
            return [], f"'{layer.name}' (Concatenate) has no reader"
        for reader in readers:
            self.pending_concat[id(reader)] = node
        return readers, None

    def finalize_parts(self):
        """Gives readers of a folded `Concatenate` one key per part.

        Done once every site is known, so that a part that is another
        site's activation gets that site's key.
        """
        for name, lin in list(self.linears.items()):
            node = self.reader_node.get(name)
            concat = self.concat_of.get(id(node)) if node else None
            if concat is None:
                continue
            parts, env = [], {}
            for t in concat.input_tensors:
                key = self.canonical.get(id(t), graph_lib.tensor_key(t))
                parts.append((key, int(t.shape[concat.operation.axis])))
                env[key] = t
            self.linears[name] = dataclasses.replace(
                lin, source=parts[0][0], parts=tuple(parts))
            self.env[id(node)] = {**env, **self.env.get(id(node), {})}
            self.bypassed.add(concat.operation.name)

    def _add_linear(self, nodes, source=None, pre_norms=(), post_norm=None):
        """Registers a linear layer from its call `nodes` (idempotent).

        Also records each node's environment: the original tensor behind
        each source key at that call. A shared layer that reads no site
        gets the call-relative key `"<layer>_input"`.
        """
        layer = nodes[0].operation
        if len(nodes) == 1:
            self.reader_node[layer.name] = nodes[0]
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
        tensor = nodes[0].input_tensors[0]
        if source is None:
            source = self.canonical.get(id(tensor))
        if source is None:
            source = (graph_lib.tensor_key(tensor) if len(nodes) == 1
                      else f"{layer.name}_input")
            for node in nodes:
                self.env[id(node)] = {source: node.input_tensors[0]}
        self.linears[layer.name] = LinearSpec(
            layer.name, source, int(tensor.shape[ops.channel_axis(layer)]),
            ops.out_channels(layer),
            bool(layer.use_bias) or bool(pre_norms) or post_norm is not None,
            tuple(pre_norms), post_norm, absorbed, bool(layer.use_bias),
            ops.taps(layer), geometry=ops.geometry_signature(layer),
        )


def _config_without_name(layer):
    if layer is None:
        return None
    config = dict(layer.get_config())
    config.pop("name", None)
    return repr(sorted(config.items()))
