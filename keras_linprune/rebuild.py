"""Rebuild: emit the compressed model, walking the graph node by node.

Weights come from the plan via the NumPy algebra (`algebra.fold_site`, in
site order, in float64). The walk then visits every node of the original
graph in topological order, as `keras/src/ops/function.py` does when it
runs a graph, and emits for each:

* a planned `Dense`: one `Dense` per source of its pre-activation (the main
  one keeps the layer's name and config), an `Add`, and the activation as a
  separate `Activation` layer when there is more than one source;
* a node whose inputs were all removed (activation and dropout of a fully
  folded layer): nothing;
* any other layer: a new layer from the same config, with the same weights.

No layer object or variable is shared with the original model.
"""

import keras
import numpy as np

from keras_linprune import algebra
from keras_linprune import graph as graph_lib
from keras_linprune import ops
from keras_linprune.spec import source_of

_REMOVED = object()


def folded_weights(found, plan, fn, fitted=None):
    """Runs the plan's folds on the real weights.

    Args:
        found, plan, fn: The analysed graph and its plan.
        fitted: Optional mapping from site key to refitted linear parts
            (`refit.fit`).

    Returns:
        Mapping from linear-node name to its `algebra.Affine` (float64), or
        `None` for a layer that disappears.
    """
    layers = {layer.name: layer for layer in fn._operations}
    affines = {}
    for name, lin in found.spec.linears.items():
        layer = layers[name]
        kernel = ops.algebra_kernel(layer)
        bias = ops.to_numpy(layer.bias) if layer.use_bias else None
        for norm in reversed(lin.pre_norms):
            kernel, bias = algebra.absorb_input_affine(
                kernel, bias, *ops.norm_affine(layers[norm]))
        if lin.post_norm is not None:
            kernel, bias = algebra.absorb_output_affine(
                kernel, bias, *ops.norm_affine(layers[lin.post_norm]))
        terms, start = {}, 0
        for key, width in lin.inputs:  # rows of each concatenated part
            terms[key] = kernel[..., start:start + width, :]
            start += width
        affines[name] = algebra.Affine(
            terms, bias, {key: (name, lin.geometry) for key in terms})
    for site in found.spec.sites:
        d = plan.decisions[site.name]
        producer, consumers = algebra.fold_site(
            affines[site.producer],
            [affines[c] for c in site.consumers],
            site.name,
            fitted=(fitted or {}).get(site.name),
            **d.fold_arguments(),
        )
        affines[site.producer] = producer
        for c, affine in zip(site.consumers, consumers):
            affines[c] = affine
    return affines


def rebuild(model, fn, found, plan, fitted=None):
    """Emits the compressed `keras.Model` described by `plan`.

    Args:
        model: The original model (for its name and compile config).
        fn: Its functional graph.
        found: `sites.FoundSites` of `fn`.
        plan: `plan.Plan` for `found.spec`.
        fitted: Optional refitted linear parts per site (`refit.fit`).

    Returns:
        `(model, reused)`: a new functional `keras.Model`, and the names of
        layers that could not be re-created from their config and are
        shared with the original model (custom layers without
        `get_config`).
    """
    affines = folded_weights(found, plan, fn, fitted)
    emitter = _Emitter(fn, found.spec, affines, plan.layout, found.env)
    for key, binding in found.bindings.items():
        if binding.activation_layer is not None:
            # Per-channel weights have the input's shape minus the batch.
            axis = binding.channel_axis
            emitter.channels[binding.activation_layer.name] = (
                plan.decisions[key].keep, axis - 1 if axis > 0 else -1)
    for node in graph_lib.ordered_nodes(fn):
        emitter.visit(node)
    inputs = keras.tree.pack_sequence_as(
        fn._inputs_struct, [emitter.tensors[id(t)] for t in fn.inputs]
    )
    outputs = keras.tree.pack_sequence_as(
        fn._outputs_struct, [emitter.tensors[id(t)] for t in fn.outputs]
    )
    small = keras.Model(inputs, outputs, name=model.name)
    _copy_compile_config(model, small)
    return small, tuple(emitter.copier.reused)


def _copy_compile_config(model, small):
    config = model.get_compile_config() if model.compiled else None
    if config:
        try:
            small.compile_from_config(config)
        except Exception:  # A custom loss or metric that cannot be revived.
            pass


class _Emitter:
    def __init__(self, fn, spec, affines, layout, env):
        self.spec = spec
        self.affines = affines
        self.layout = layout
        self.env = env
        # (layer name, source key) -> emitted layer(s), so that every call of
        # a shared layer uses the same new layers.
        self.emitted = {}
        self.claimed = set()
        self.outputs = {id(t) for t in fn.outputs}
        self.used_names = {layer.name for layer in fn._operations}
        self.tensors = {}  # id(original tensor) -> new tensor or _REMOVED
        self.copier = graph_lib.LayerCopier()
        self.layers = {layer.name: layer for layer in fn._operations}
        # Activation layers whose input lost channels -> channels kept.
        self.channels = {}
        for t in fn.inputs:
            layer = t._keras_history.operation
            new = keras.Input(
                batch_shape=t.shape, dtype=t.dtype, sparse=t.sparse,
                name=layer.name,
            )
            self._register(t, new)

    def visit(self, node):
        ins = node.input_tensors
        layer = node.operation
        if layer.name in self.spec.linears:
            out = self._emit_linear(layer, node)
        elif layer.name in self.spec.absorbed:
            out = self.tensors[id(ins[0])]  # folded into a Dense
        elif layer.name in self.spec.bypassed:
            out = _REMOVED  # its readers read the parts directly
        elif ins and all(self.tensors[id(t)] is _REMOVED for t in ins):
            out = [_REMOVED] * len(node.outputs)
        else:
            out = self._emit_copy(layer, node)
        for t, new in zip(node.outputs, keras.tree.flatten(out)):
            self._register(t, new)

    def _register(self, tensor, new):
        self.tensors[id(tensor)] = new

    def _emit_copy(self, layer, node):
        weights = None
        if layer.name in self.channels:
            # Per-channel weights (PReLU's alpha) follow the kept channels.
            keep, axis = self.channels[layer.name]
            weights = [np.take(w, keep, axis=axis) for w in layer.get_weights()]
        return self.copier.call(node, self.tensors, weights=weights)

    def _emit_linear(self, layer, node):
        """One layer per term of the node's pre-activation, summed.

        The first term keeps the layer's name, config and bias; the others
        are bias-free layers with the geometry their term came from.
        """
        affine = self.affines[layer.name]
        if affine is None:
            return _REMOVED
        lin = self.spec.linears[layer.name]
        main = lin.source
        keys = sorted(affine.terms, key=lambda k: k != main)
        activation = layer.get_config()["activation"]
        single = len(keys) == 1
        is_output = id(node.outputs[0]) in self.outputs
        base = layer.name
        ranks = self.layout[layer.name].ranks
        parts = []
        for i, key in enumerate(keys):
            if key == main and not lin.parts:
                x = self.tensors[id(node.input_tensors[0])]
            else:  # what this term's source reads at this call
                x = self.tensors[id(self.env[id(node)][source_of(key)])]
            emitted = self.emitted.get((base, key))
            fresh = emitted is None
            if fresh:
                emitted = self._make_term(layer, affine, i, key, ranks,
                                          single, is_output)
                self.emitted[(base, key)] = emitted
            for new in emitted:
                x = new(x)
            if fresh:  # weights can be set once the layers are built
                self._set_term_weights(emitted, affine, i, key, ranks)
            parts.append(x)
        if single:
            return parts[0]
        # The last layer of a model output keeps the original name, so that
        # `model.output_names` (and dict outputs, losses, metrics) still match.
        final_is_add = activation == "linear"
        add_name = self._unique(f"{base}_add")
        if is_output and final_is_add:
            add_name = self._claim(base)
        out = keras.layers.Add(name=add_name)(parts)
        if not final_is_add:
            act_name = (self._claim(base) if is_output
                        else self._unique(f"{base}_activation"))
            out = keras.layers.Activation(activation, name=act_name)(out)
        return out

    def _claim(self, name):
        """`name` itself the first time (an original layer name handed to
        the layer that replaces it), then a unique variant."""
        if name in self.claimed:
            return self._unique(name)
        self.claimed.add(name)
        return name

    def _make_term(self, layer, affine, i, key, ranks, single, is_output):
        """The layer(s) computing one term: one layer, or a low-rank pair
        (`geometry` down to `rank` channels, then pointwise up)."""
        base = layer.name
        geometry = self.layers[affine.geometry[key][0]]
        bias = affine.bias if i == 0 else None
        if i == 0:
            name = base if single or not is_output else self._unique(
                f"{base}_linear")
            act = layer.get_config()["activation"] if single else "linear"
        else:
            own = {k for k, _ in self.spec.linears[base].inputs}
            kind = "part" if key in own else "shortcut"  # own concat block?
            name = self._unique(f"{base}_{kind}_{source_of(key)}")
            act = "linear"
        if key in ranks:
            down = ops.make_like(geometry, ranks[key], use_bias=False,
                                 name=self._unique(f"{name}_down"))
            up = ops.make_pointwise_like(
                geometry, affine.units, use_bias=bias is not None, name=name,
                activation=act)
            return (down, up)
        return (ops.make_like(geometry, affine.units,
                              use_bias=bias is not None, name=name,
                              activation=act,
                              keep_config=i == 0 and geometry is layer),)

    @staticmethod
    def _set_term_weights(emitted, affine, i, key, ranks):
        bias = affine.bias if i == 0 else None
        if key in ranks:
            down, up = ops.low_rank_factors(affine.terms[key], ranks[key])
            ops.set_kernel(emitted[0], down)
            ops.set_kernel(emitted[1], up, bias)
        else:
            ops.set_kernel(emitted[0], affine.terms[key], bias)

    def _unique(self, name):
        if name not in self.used_names:
            self.used_names.add(name)
            return name
        i = 1
        while f"{name}_{i}" in self.used_names:
            i += 1
        self.used_names.add(f"{name}_{i}")
        return f"{name}_{i}"
