"""The node walk that emits the compressed model.

Visits every node of the original graph in topological order, as
`keras/src/ops/function.py` does when it runs a graph, and emits for each:

* a planned linear layer: its terms (`terms.LinearEmitter`);
* an absorbed normalization: nothing (its input passes on);
* a bypassed `Concatenate`: nothing (its readers read the parts);
* a node whose inputs were all removed (the activation and dropout of a
  fully folded layer): nothing;
* any other layer: a copy with the same config and weights (narrowed to
  the kept channels for per-channel activation weights).

No layer object or variable is shared with the original model.
"""

import keras

from keras_linprune.core.spec import source_of
from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.graph import registry
from keras_linprune.graph.copier import LayerCopier
from keras_linprune.rebuild.names import Names
from keras_linprune.rebuild.terms import LinearEmitter

#: Stands for a tensor that no longer exists in the rebuilt model.
REMOVED = object()


class GraphEmitter:
    """Walks an analysed graph and emits the rebuilt one.

    Args:
        analysis: The analysed model.
        plan: The plan being executed.
        affines: Folded weights per linear node (`weights.folded_weights`).
    """

    def __init__(self, analysis, plan, affines):
        fn = analysis.fn
        self.spec = analysis.spec
        self.env = analysis.found.env
        self.affines = affines
        self.outputs = {id(t) for t in fn.outputs}
        self.tensors = nodes_lib.new_inputs(fn)  # id(original) -> new
        self.copier = LayerCopier()
        layers = analysis.operations
        self.linear = LinearEmitter(
            self.spec, affines, plan.layout, layers, Names(layers)
        )
        self.narrowed = _narrowed_channels(analysis, plan)

    def run(self, fn):
        """Emits every node of `fn`; returns the new tensors by `id` of
        the original ones."""
        for node in nodes_lib.ordered_nodes(fn):
            out = self._visit(node)
            for t, new in zip(node.outputs, keras.tree.flatten(out)):
                self.tensors[id(t)] = new
        return self.tensors

    def _visit(self, node):
        ins = node.input_tensors
        layer = node.operation
        if layer.name in self.spec.linears:
            return self._emit_linear(layer, node)
        if layer.name in self.spec.absorbed:
            return self.tensors[id(ins[0])]  # folded into a linear layer
        if layer.name in self.spec.bypassed:
            return REMOVED  # its readers read the parts directly
        if ins and all(self.tensors[id(t)] is REMOVED for t in ins):
            return [REMOVED] * len(node.outputs)
        weights = None
        if layer.name in self.narrowed:
            keep, axis = self.narrowed[layer.name]
            weights = registry.kind_of(layer).narrow_weights(layer, keep, axis)
        return self.copier.call(node, self.tensors, weights=weights)

    def _emit_linear(self, layer, node):
        affine = self.affines[layer.name]
        if affine is None:
            return REMOVED
        lin = self.spec.linears[layer.name]
        inputs = {}
        for key in affine.terms:
            if key == lin.source and not lin.parts:
                original = node.input_tensors[0]
            else:  # what this term's source reads at this call
                original = self.env[id(node)][source_of(key)]
            inputs[key] = self.tensors[id(original)]
        return self.linear.emit(layer, inputs, id(node.outputs[0]) in self.outputs)


def _narrowed_channels(analysis, plan):
    """Layer name -> `(kept channels, channel axis)` for every layer copied
    behind a narrowed producer with per-channel weights: a site's
    activation layer, and a depthwise convolution with the per-channel
    layers after it."""
    narrowed = {}
    for key, binding in analysis.found.bindings.items():
        per_channel = [
            binding.activation_layer,
            *binding.channel_maps,
            *binding.narrowed_readers,
        ]
        for layer in per_channel:
            if layer is not None:
                narrowed[layer.name] = (plan.decisions[key].keep, binding.channel_axis)
    return narrowed
