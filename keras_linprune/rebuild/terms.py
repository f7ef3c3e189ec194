"""Emitting one rebuilt linear node with as few layers as possible.

A linear node's pre-activation after folding is a sum of terms, one per
source (`core.algebra.Affine`). Terms that can share one kernel are emitted
as *one* layer reading the concatenation of their inputs (channel axis):

* the *anchor* term (the layer's own input, or the first term left) decides
  the geometry; every full term with the same geometry joins it;
* a low-rank term (planned rank `r`) joins it through its first half (the
  term's geometry down to `r` channels) when the anchor is pointwise: the
  second half becomes `r` rows of the anchor's kernel.

The joined layer keeps the original layer's name, config, bias and
activation, and reads `<layer>_inputs` (a `Concatenate`) when it has more
than one input; layers reading the same inputs in the same order (the
consumers of one folded site) share one `Concatenate`. Terms that cannot
join (another spatial geometry, or input shapes that differ) stay separate
bias-free layers (`<layer>_shortcut_<source>`, or `<layer>_part_<source>` for
a block of its own concatenated input) summed by an `Add` (`<layer>_add`),
the activation then following as an `Activation` layer. Same parameters
either way; fewer layers, and no `Conv -> Add -> activation` chain for
TensorFlow's CPU graph fusion to get wrong (it applies the default slope
to `LeakyReLU` there).
"""

import dataclasses

import keras
import numpy as np

from keras_linprune.core import algebra
from keras_linprune.core.spec import shares_kernel, source_of
from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import registry


@dataclasses.dataclass
class NodeLayers:
    """The new layers of one linear node, made at its first call.

    Attributes:
        joined: Term keys read by the joined layer, anchor first.
        downs: Term key -> first half of a low-rank term that joins.
        concat: The `Concatenate` in front of the joined layer, or `None`.
        layer: The joined layer.
        separate: Term key -> layers of a term emitted on its own.
        add: The `Add` summing the joined layer and the separate terms, and
            the `Activation` after it (either may be `None`).
    """

    joined: list
    downs: dict
    concat: object
    layer: object
    separate: dict
    add: object = None
    activation: object = None

    def weighted_layers(self):
        """The layers holding weights (all set by `_set_weights`)."""
        separate = [new for layers in self.separate.values() for new in layers]
        return [self.layer, *self.downs.values(), *separate]


class LinearEmitter:
    """Emits the layers of planned linear nodes, once per layer.

    Args:
        spec: The `GraphSpec`.
        affines: Folded weights per node (`weights.folded_weights`).
        layout: The plan's `NodeLayout` per node.
        layers: Original layer name -> layer (geometry templates).
        names: The rebuilt model's `names.Names`.
    """

    def __init__(self, spec, affines, layout, layers, names):
        self.spec = spec
        self.affines = affines
        self.layout = layout
        self.layers = layers
        self.names = names
        # layer name -> NodeLayers, so that every call of a shared layer
        # uses the same new layers.
        self._emitted = {}
        # (axis, ids of the parts) -> (parts, output) of every Concatenate
        # called so far, so that consumers reading the same sources (two
        # readers of one folded site) share one.
        self._concatenated = {}

    def emit(self, layer, inputs, is_output):
        """The new tensor of one call of a planned linear `layer`.

        Args:
            layer: The original layer.
            inputs: Term key -> new tensor it reads at this call.
            is_output: Whether the call's output is a model output (the
                last emitted layer then takes the original name, so that
                `output_names`, dict outputs and losses still match).
        """
        made = self._emitted.get(layer.name)
        fresh = made is None
        if fresh:
            made = self._make(layer, inputs, is_output)
            self._emitted[layer.name] = made
        if not fresh:
            return self._call(made, inputs)
        with internals.zero_initialized(made.weighted_layers()):
            out = self._call(made, inputs)  # builds them
        self._set_weights(layer, made)  # every weight, once built
        return out

    def _call(self, made, inputs):
        joined = [
            made.downs[key](inputs[key]) if key in made.downs else inputs[key]
            for key in made.joined
        ]
        x = joined[0] if made.concat is None else self._concatenate(made.concat, joined)
        parts = [made.layer(x)]
        for key, term_layers in made.separate.items():
            y = inputs[key]
            for new in term_layers:
                y = new(y)
            parts.append(y)
        if made.add is None:
            return parts[0]
        out = made.add(parts)
        return made.activation(out) if made.activation is not None else out

    def _concatenate(self, concat, parts):
        """`concat(parts)`, or the output of an earlier `Concatenate` of
        the same tensors in the same order (then `concat` stays unused)."""
        key = (concat.axis, tuple(id(t) for t in parts))
        if key not in self._concatenated:
            self._concatenated[key] = (parts, concat(parts))
        return self._concatenated[key][1]

    # -- making the layers ----------------------------------------------------

    def _make(self, layer, inputs, is_output):
        affine = self.affines[layer.name]
        main = self.spec.linears[layer.name].source
        keys = sorted(affine.terms, key=lambda k: k != main)
        joined, separate = self._group(layer, affine, keys, inputs)
        activation = layer.get_config()["activation"]
        alone = not separate
        ranks = self.layout[layer.name].ranks
        downs = {
            key: self._down(layer, affine, key)
            for key in joined
            if ranks.get(key) is not None
        }
        made = NodeLayers(joined, downs, None, None, {})
        anchor = joined[0]
        if len(joined) > 1:
            name = self.names.unique(f"{layer.name}_inputs")
            axis = self._channel_axis(affine, anchor)
            made.concat = keras.layers.Concatenate(axis=axis, name=name)
        made.layer = self._joined_layer(
            layer, affine, anchor, alone, is_output, anchor in made.downs
        )
        for key in separate:
            made.separate[key] = self._separate_term(layer, affine, key)
        if not alone:
            self._make_sum(made, layer.name, activation, is_output)
        return made

    def _group(self, layer, affine, keys, inputs):
        """Which terms join the anchor (the first full term: its geometry;
        full terms of that geometry join it, and low-rank terms through
        their first half when it is pointwise), and which stay separate.
        Without a full term, every term is low-rank and joins a pointwise
        layer. Joined inputs must agree in shape on all but the channels.

        Returns:
            `(joined, separate)` lists of term keys, `joined` in the order
            of the joined layer's inputs.
        """
        ranks = self.layout[layer.name].ranks
        full = [key for key in keys if ranks.get(key) is None]
        anchor = full[0] if full else keys[0]
        template = self._template(affine, anchor)
        kind = registry.linear_kind(template)
        pointwise = not full or (
            kind.taps(template) == 1 and kind.is_pointwise(template)
        )
        axis = kind.channel_axis(template)
        joined, separate, shape = [], [], None
        for key in [anchor, *(k for k in keys if k != anchor)]:
            low_rank = ranks.get(key) is not None
            if low_rank:
                ok = pointwise
                x_shape = self._term_output_shape(affine, key, inputs[key])
            else:
                ok = shares_kernel(affine.geometry[key][1], affine.geometry[anchor][1])
                x_shape = inputs[key].shape
            x_shape = _without(x_shape, axis)
            shape = x_shape if shape is None else shape
            (joined if ok and x_shape == shape else separate).append(key)
        return joined, separate

    def _template(self, affine, key):
        """The original layer whose geometry the term `key` has."""
        return self.layers[affine.geometry[key][0]]

    def _term_output_shape(self, affine, key, x):
        """Shape of the term's output for input `x` (its geometry, any
        number of channels)."""
        return self._template(affine, key).compute_output_shape(x.shape)

    def _channel_axis(self, affine, key):
        template = self._template(affine, key)
        return registry.linear_kind(template).channel_axis(template)

    def _down(self, layer, affine, key):
        template = self._template(affine, key)
        rank = self.layout[layer.name].ranks[key]
        name = self.names.unique(f"{layer.name}_shortcut_{source_of(key)}_down")
        return registry.linear_kind(template).make_like(
            template, rank, use_bias=False, name=name
        )

    def _joined_layer(self, layer, affine, anchor, alone, is_output, low_rank):
        """The layer over the joined inputs: the original's name, config,
        bias and (when no term is separate) activation; pointwise when the
        anchor term is low-rank (its second half). When the anchor is a
        shortcut applied like the layer itself (its own input folded away),
        the layer is still the template: its config, not the producer's."""
        template = self._template(affine, anchor)
        own_geometry = self.spec.linears[layer.name].geometry
        if type(template) is type(layer) and affine.geometry[anchor][1] == own_geometry:
            template = layer
        if alone or not is_output:
            name = self.names.claim(layer.name)
        else:
            name = self.names.unique(f"{layer.name}_linear")
        kind = registry.linear_kind(template)
        common = dict(
            use_bias=affine.bias is not None,
            name=name,
            activation=layer.get_config()["activation"] if alone else "linear",
        )
        if low_rank:
            return kind.make_pointwise(template, affine.units, **common)
        return kind.make_like(
            template, affine.units, keep_config=template is layer, **common
        )

    def _separate_term(self, layer, affine, key):
        """The bias-free layer(s) of a term that does not join: one layer
        of its geometry, or a low-rank pair (down, then pointwise up)."""
        own = {k for k, _ in self.spec.linears[layer.name].inputs}
        kind_name = "part" if key in own else "shortcut"  # own concat block?
        name = self.names.unique(f"{layer.name}_{kind_name}_{source_of(key)}")
        template = self._template(affine, key)
        kind = registry.linear_kind(template)
        if self.layout[layer.name].ranks.get(key) is None:
            return (kind.make_like(template, affine.units, use_bias=False, name=name),)
        down = self._down(layer, affine, key)
        up = kind.make_pointwise(template, affine.units, use_bias=False, name=name)
        return (down, up)

    def _make_sum(self, made, base, activation, is_output):
        final_is_add = activation == "linear"
        if is_output and final_is_add:
            add_name = self.names.claim(base)
        else:
            add_name = self.names.unique(f"{base}_add")
        made.add = keras.layers.Add(name=add_name)
        if not final_is_add:
            name = (
                self.names.claim(base)
                if is_output
                else self.names.unique(f"{base}_activation")
            )
            made.activation = keras.layers.Activation(activation, name=name)

    # -- weights --------------------------------------------------------------

    def _set_weights(self, layer, made):
        affine = self.affines[layer.name]
        ranks = self.layout[layer.name].ranks
        anchor = affine.terms[made.joined[0]]
        blocks = [
            _set_down(made.downs[key], affine.terms[key], ranks[key])
            if key in made.downs
            else _as_block(affine.terms[key], anchor)
            for key in made.joined
        ]
        _set(made.layer, np.concatenate(blocks, axis=-2), affine.bias)
        for key, term_layers in made.separate.items():
            kernel = affine.terms[key]
            if len(term_layers) == 2:  # a low-rank pair
                kernel = _set_down(term_layers[0], kernel, ranks[key])
            _set(term_layers[-1], kernel)


def _set(layer, kernel, bias=None):
    registry.linear_kind(layer).set_weights(layer, kernel, bias)


def _as_block(kernel, anchor):
    """A full joined term's kernel as a block of the anchor's: a flattened
    `Dense` term's `(taps, in, out)` as `(taps * in, out)` rows of a plain
    `Dense` anchor (`spec.shares_kernel`); any other as it is."""
    if kernel.ndim > anchor.ndim == 2:
        return kernel.reshape(-1, kernel.shape[-1])
    return kernel


def _set_down(down, kernel, rank):
    """Sets the first half of the rank-`rank` factorization of `kernel` on
    `down`; returns the second half."""
    down_kernel, up_kernel = algebra.low_rank_factors(kernel, rank)
    _set(down, down_kernel)
    return up_kernel


def _without(shape, axis):
    """`shape` without the batch axis and the channel `axis`."""
    shape = list(shape)
    del shape[axis]
    return tuple(shape[1:])
