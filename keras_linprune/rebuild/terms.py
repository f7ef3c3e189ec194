"""Emitting one rebuilt linear node: a layer per term, summed.

A linear node's pre-activation after folding is a sum of terms, one per
source (`core.algebra.Affine`). The first term keeps the layer's name,
config and bias; every other term is a bias-free layer with the geometry it
came from (`<layer>_shortcut_<source>`, or `<layer>_part_<source>` for a
block of its own concatenated input); an `Add` sums them and the activation
follows as an `Activation` layer. A term with a planned rank is a low-rank
pair: the term's geometry down to `r` channels, then pointwise up.
"""

import keras

from keras_linprune.core import algebra
from keras_linprune.core.spec import source_of
from keras_linprune.graph import registry


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
        # (layer name, term key) -> emitted layer(s), so that every call of
        # a shared layer uses the same new layers.
        self._emitted = {}

    def emit(self, layer, inputs, is_output):
        """The new tensor of one call of a planned linear `layer`.

        Args:
            layer: The original layer.
            inputs: Term key -> new tensor it reads at this call.
            is_output: Whether the call's output is a model output (the
                last emitted layer then takes the original name, so that
                `output_names`, dict outputs and losses still match).
        """
        affine = self.affines[layer.name]
        main = self.spec.linears[layer.name].source
        keys = sorted(affine.terms, key=lambda k: k != main)
        single = len(keys) == 1
        parts = [
            self._term(layer, affine, i, key, inputs[key], single, is_output)
            for i, key in enumerate(keys)
        ]
        if single:
            return parts[0]
        return self._sum(layer, parts, is_output)

    def _term(self, layer, affine, i, key, x, single, is_output):
        """Applies the (possibly new) layers of one term to `x`."""
        emitted = self._emitted.get((layer.name, key))
        fresh = emitted is None
        if fresh:
            emitted = self._make_term(layer, affine, i, key, single, is_output)
            self._emitted[(layer.name, key)] = emitted
        for new in emitted:
            x = new(x)
        if fresh:  # weights can be set once the layers are built
            self._set_term_weights(layer, emitted, affine, i, key)
        return x

    def _sum(self, layer, parts, is_output):
        activation = layer.get_config()["activation"]
        base = layer.name
        final_is_add = activation == "linear"
        add_name = self.names.unique(f"{base}_add")
        if is_output and final_is_add:
            add_name = self.names.claim(base)
        out = keras.layers.Add(name=add_name)(parts)
        if not final_is_add:
            act_name = (
                self.names.claim(base)
                if is_output
                else self.names.unique(f"{base}_activation")
            )
            out = keras.layers.Activation(activation, name=act_name)(out)
        return out

    def _term_name(self, layer, i, key, single, is_output):
        base = layer.name
        if i == 0:
            if single or not is_output:
                return base
            return self.names.unique(f"{base}_linear")
        own = {k for k, _ in self.spec.linears[base].inputs}
        kind = "part" if key in own else "shortcut"  # own concat block?
        return self.names.unique(f"{base}_{kind}_{source_of(key)}")

    def _make_term(self, layer, affine, i, key, single, is_output):
        """The layer(s) computing one term: one layer, or a low-rank pair
        (`geometry` down to `rank` channels, then pointwise up)."""
        geometry = self.layers[affine.geometry[key][0]]
        kind = registry.linear_kind(geometry)
        use_bias = i == 0 and affine.bias is not None
        name = self._term_name(layer, i, key, single, is_output)
        act = layer.get_config()["activation"] if i == 0 and single else "linear"
        rank = self.layout[layer.name].ranks.get(key)
        if rank is not None:
            down = kind.make_like(
                geometry, rank, use_bias=False, name=self.names.unique(f"{name}_down")
            )
            up = kind.make_pointwise(
                geometry, affine.units, use_bias=use_bias, name=name, activation=act
            )
            return (down, up)
        return (
            kind.make_like(
                geometry,
                affine.units,
                use_bias=use_bias,
                name=name,
                activation=act,
                keep_config=i == 0 and geometry is layer,
            ),
        )

    def _set_term_weights(self, layer, emitted, affine, i, key):
        bias = affine.bias if i == 0 else None
        rank = self.layout[layer.name].ranks.get(key)
        if rank is not None:
            down, up = emitted
            down_kernel, up_kernel = algebra.low_rank_factors(affine.terms[key], rank)
            registry.linear_kind(down).set_weights(down, down_kernel)
            registry.linear_kind(up).set_weights(up, up_kernel, bias)
        else:
            (only,) = emitted
            registry.linear_kind(only).set_weights(only, affine.terms[key], bias)
