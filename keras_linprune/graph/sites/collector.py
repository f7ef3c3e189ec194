"""Accumulates what site matching finds into the Keras-free `GraphSpec`.

The collector registers linear layers (`LinearSpec`), sites (`SiteSpec`)
and rejections, and keeps the Keras-side facts measurement and rebuild need:
per call of every linear node the tensor behind each source key (`env`),
the canonical key of activation tensors, absorbed normalization layers and
bypassed `Concatenate`s.
"""

import dataclasses

from keras_linprune.core.spec import LinearSpec, Rejection, SiteSpec, flattened
from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.graph import registry


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
        producer: The producer layer.
        activation_layer: The separate activation layer, or `None`.
        channel_axis: Axis of the neurons (channels) in `measured`.
        nodes: The producer's call nodes.
        channel_maps: A depthwise convolution and the per-channel layers
            after it on the way to the consumers (narrowed with the kept
            channels; dead channels reach the consumers as their output on
            zeros), or `()`.
        narrowed_readers: Separable convolutions reading the activation,
            narrowed with the kept channels.
    """

    tensor: object
    measured: object
    on_output: bool
    producer: object
    activation_layer: object = None
    channel_axis: int = -1
    nodes: tuple = ()
    channel_maps: tuple = ()
    narrowed_readers: tuple = ()


class SiteCollector:
    """Mutable state of one `find_sites` run."""

    def __init__(self, index):
        self.index = index
        self.canonical = {}  # id(tensor) -> site key, through identities
        self.env = {}  # id(linear node) -> {source key: original tensor}
        self.linears = {}
        self.sites = []
        self.rejected = []
        self.bindings = {}
        self.absorbed = {}  # norm layer name -> its parameter count
        self.concat_of = {}  # id(reader node) -> the Concatenate node
        self.reader_node = {}  # linear layer name -> its (single) node
        self.bypassed = set()  # Concatenate layers no longer needed
        self.inherited = []  # (consumer, producer node, key, tensor) ids

    def reject(self, key, layer, width, reason):
        self.rejected.append(Rejection(key, layer.name, width, reason))

    def add_site(self, key, layer, nodes, matches, walks):
        """Registers a site whose calls `nodes` have the activation
        `matches` and consumer `walks` (one per call)."""
        first = matches[0]
        kind = registry.linear_kind(layer)
        width = kind.out_channels(layer)
        self.add_linear(nodes, post_norms=tuple(n.name for n in first.norms))
        names = self._add_consumers(key, nodes, matches, walks)
        maps, readers = walks[0].channel_maps, tuple(walks[0].narrowed_readers)
        per_channel = [first.layer, *maps, *readers]
        per_channel = [m for m in per_channel if m is not None]
        channel_params = sum(
            registry.kind_of(m).channel_params(m, width) for m in per_channel
        )
        consumers = [self.index.layers[n] for n in names]
        via = [v for w in walks for c, _ in w.consumers for v in w.via.get(id(c), ())]
        self.sites.append(
            SiteSpec(
                key,
                layer.name,
                tuple(names),
                width,
                first.activation,
                channel_params,
                _linear_block(consumers, via, readers),
                all(registry.linear_kind(c).exact_on_constants(c) for c in consumers)
                and all(registry.kind_of(v).keeps_constants for v in via)
                and not readers,
                dead_reach_as_constants=bool(maps),
                channel_macs=self._channel_macs(per_channel, width),
            )
        )
        self.bindings[key] = SiteBinding(
            tuple(m.output for m in matches),
            tuple(m.measured for m in matches),
            first.layer is None,
            layer,
            first.layer,
            kind.channel_axis(layer),
            tuple(nodes),
            maps,
            readers,
        )

    def _channel_macs(self, layers, width):
        """Multiply-accumulates per neuron of the layers narrowed with a
        site (all calls), or `None` when unknown."""
        total = 0
        for layer in layers:
            for node in self.index.calls_of[id(layer)]:
                macs = registry.kind_of(layer).macs(layer, node)
                if macs is None:
                    return None
                total += macs
        return total // width

    def _add_consumers(self, key, nodes, matches, walks):
        """Registers every consumer of a site; returns their names."""
        names = []
        for node, match, walk in zip(nodes, matches, walks):
            for consumer, norms in walk.consumers:
                if id(consumer) in walk.concat:
                    self.concat_of[id(consumer)] = walk.concat[id(consumer)]
                flat = any(
                    registry.kind_of(v).flattens for v in walk.via.get(id(consumer), ())
                )
                self.add_linear(
                    [consumer],
                    source=key,
                    pre_norms=norms,
                    positions_of=match.output.shape[-1] if flat else None,
                )
                # The site's key reads the consumer's own input when it
                # passes through pooling or padding (not the activation).
                reads = (
                    consumer.input_tensors[0]
                    if id(consumer) in walk.via
                    else match.output
                )
                self.inherited.append((id(consumer), id(node), key, reads))
                if consumer.operation.name not in names:
                    names.append(consumer.operation.name)
            self.canonical[id(match.output)] = key
            for t in walk.identities:
                self.canonical[id(t)] = key
        return names

    def _inherit(self, consumer_id, producer_id, key, reads):
        """A consumer's environment: the producer's (shortcuts from the
        producer's sources land in it), its own, and the site's key.
        Applied in site order by `finalize`, once every key is known.

        Returns the keys that name another tensor in the consumer's own
        environment than in the producer's (a site's activation read
        directly by one and through pooling by the other, as in a U-Net's
        skip `Concatenate`): the consumer keeps its own, and the producer's
        folds must not bring it the other."""
        own = self.env.get(consumer_id, {})
        theirs = self.env[producer_id]
        clashes = [k for k, t in theirs.items() if k in own and own[k] is not t]
        self.env[consumer_id] = {**theirs, **own, key: reads}
        return clashes

    def add_linear(
        self, nodes, source=None, pre_norms=(), post_norms=(), positions_of=None
    ):
        """Registers a linear layer from its call `nodes` (idempotent).

        Also records each node's environment: the original tensor behind
        each source key at that call. A shared layer that reads no site
        gets the call-relative key `"<layer>_input"`.

        `positions_of`: for a Dense reading a site's flattened activation,
        the site's channel count; its kernel then has one tap per position.
        """
        layer = nodes[0].operation
        if len(nodes) == 1:
            self.reader_node[layer.name] = nodes[0]
        absorbed = self._absorb((*pre_norms, *post_norms))
        if layer.name in self.linears:
            old = self.linears[layer.name]
            self.linears[layer.name] = dataclasses.replace(
                old,
                post_norms=post_norms or old.post_norms,
                use_bias=old.use_bias or bool(post_norms),
                absorbed_params=old.absorbed_params + absorbed,
            )
            return
        tensor = nodes[0].input_tensors[0]
        if source is None:
            source = self._source_of(nodes, tensor)
        kind = registry.linear_kind(layer)
        width, taps = int(tensor.shape[kind.channel_axis(layer)]), kind.taps(layer)
        geometry = kind.geometry(layer)
        if positions_of is not None:
            width, taps = positions_of, width // positions_of
            geometry = flattened(geometry, taps)
        self.linears[layer.name] = LinearSpec(
            layer.name,
            source,
            width,
            kind.out_channels(layer),
            bool(layer.use_bias) or bool(pre_norms) or bool(post_norms),
            tuple(pre_norms),
            tuple(post_norms),
            absorbed,
            bool(layer.use_bias),
            taps,
            geometry=geometry,
            pointwise=taps == 1 and kind.is_pointwise(layer),
            positions=sum_known(kind.kernel_positions(layer, n) for n in nodes),
        )

    def _absorb(self, norm_names):
        """Records normalization layers folded away; returns the
        parameters newly accounted to the layer absorbing them."""
        absorbed = 0
        for name in norm_names:
            if name is not None and name not in self.absorbed:
                self.absorbed[name] = nodes_lib.params_of(self.index.layers[name])
                absorbed += self.absorbed[name]
        return absorbed

    def _source_of(self, nodes, tensor):
        """Source key of a linear layer that reads no site directly."""
        source = self.canonical.get(id(tensor))
        if source is None:
            layer = nodes[0].operation
            source = (
                self.index.tensor_key(tensor)
                if len(nodes) == 1
                else f"{layer.name}_input"
            )
            for node in nodes:
                self.env[id(node)] = {source: node.input_tensors[0]}
        return source

    def finalize(self):
        """Gives readers of a folded `Concatenate` one key per part, then
        every consumer its environment.

        Done once every site is known, so that a part that is another
        site's activation gets that site's key, and a Concatenate reader
        that is itself a producer passes its parts' keys on to its
        consumers (their shortcuts read them).
        """
        for name, lin in list(self.linears.items()):
            node = self.reader_node.get(name)
            concat = self.concat_of.get(id(node)) if node else None
            if concat is None:
                continue
            parts, env = [], {}
            for t in concat.input_tensors:
                key = self.canonical.get(id(t), self.index.tensor_key(t))
                parts.append((key, int(t.shape[concat.operation.axis])))
                env[key] = t
            self.linears[name] = dataclasses.replace(
                lin, source=parts[0][0], parts=tuple(parts)
            )
            self.env[id(node)] = {**env, **self.env.get(id(node), {})}
            self.bypassed.add(concat.operation.name)
        blocked = {}
        for inheritance in self.inherited:  # in site order: chains compose
            clashes = self._inherit(*inheritance)
            if clashes:
                blocked.setdefault(inheritance[2], clashes[0])
        self.sites = [_blocked(site, blocked.get(site.name)) for site in self.sites]


def sum_known(values):
    """The sum of `values`, or `None` if one is `None`."""
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def _blocked(site, clash):
    """`site` with its linear folds blocked when one of its producer's
    sources, `clash`, reaches a consumer by two paths (`_inherit`)."""
    if clash is None or site.linear_block:
        return site
    return dataclasses.replace(
        site,
        linear_block=(
            f"'{clash}' reaches a consumer both directly and through pooling "
            "or padding: only constant channels are removed"
        ),
    )


def _linear_block(consumers, via, readers=()):
    """Why linear neurons cannot fold into these consumers, or ""."""
    for r in readers:
        return (
            f"'{r.name}' ({type(r).__name__}) reads the activation: only dead "
            "channels are removed"
        )
    for c in consumers:
        kind = registry.linear_kind(c)
        if not kind.is_pointwise(c):
            return (
                f"consumer '{c.name}' has a {kind.kernel_text(c)}: only "
                "constant channels are removed"
            )
    if via:
        return (
            f"'{via[0].name}' ({type(via[0]).__name__}) sits before "
            "the consumers: only constant channels are removed"
        )
    return ""
