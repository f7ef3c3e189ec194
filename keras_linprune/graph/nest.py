"""Nests the rebuilt graph again: the inverse of `flatten`.

`flatten` inlines nested models so that their fold sites are visible; the
rebuild emits one flat graph in which the layers of a submodel are named
`"<submodel>.<layer>"` (the layers it adds too: they are named after the
layer they replace or feed). `renest` copies that graph back into the
user's structure: every inlined submodel is a submodel again, with its
name, its type (a `Sequential` while it is still a chain), its `trainable`
flag and its layers' own names, so that "unfreeze the base" works on the
compressed model as it did on the original.

A fold can cross a submodel's boundary (the shortcut of a base's last layer
lands in the head): the submodel then gets an extra input or output.
"""

import keras

from keras_linprune.graph import keras_internals as internals
from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.graph.copier import LayerCopier
from keras_linprune.graph.flatten import inlinable


class _NotNestable(Exception):
    """The flat graph cannot be cut into the original submodels."""


class _Walk:
    """What every level of the nesting reads: the flat original's tensors
    mapped onto the rebuilt graph, and who reads each rebuilt tensor."""

    def __init__(self, flat, tensors):
        self.tensors = tensors
        self.readers = nodes_lib.consumers_by_tensor(nodes_lib.ordered_nodes(flat))
        self.model_outputs = {id(t) for t in flat.outputs}
        self.copier = LayerCopier()


def renest(flat, inlined, tensors):
    """The rebuilt `flat` model with the original's nested models restored.

    Args:
        flat: The rebuilt functional model, submodels inlined.
        inlined: The `flatten.Inlined` records of the original.
        tensors: `id(tensor of the flat original graph)` -> its tensor in
            `flat` (what the rebuild's emitter returns).

    Returns:
        A new model with the nesting of the original, or `flat` itself when
        nothing was inlined or the rebuilt graph cannot be cut along the
        submodels' boundaries (an outer layer between two of a submodel's).
    """
    if not inlined:
        return flat
    walk = _Walk(flat, tensors)
    new = nodes_lib.new_inputs(flat)
    try:
        _emit(nodes_lib.ordered_nodes(flat), inlined, new, walk, prefix="")
    except _NotNestable:
        return flat
    return nodes_lib.new_model(flat, new, flat.name)


def _emit(nodes, inlined, new, walk, prefix):
    """Copies `nodes` (names stripped of `prefix`) onto the `new` tensors,
    each submodel among them as one call of a new submodel."""
    records = [_record_of(node, inlined) for node in nodes]
    members = {}
    for node, record in zip(nodes, records):
        if record is not None:
            members.setdefault(id(record), (record, []))[1].append(node)
    for node, record in zip(nodes, records):
        if record is None:
            name = node.operation.name[len(prefix) :]
            _store(node.outputs, walk.copier.call(node, new, name=name), new)
        elif id(record) in members:
            _emit_submodel(*members.pop(id(record)), new, walk)


def _record_of(node, inlined):
    name = node.operation.name
    return next((r for r in inlined if name.startswith(r.prefix)), None)


def _store(originals, out, new):
    for t, made in zip(originals, keras.tree.flatten(out)):
        new[id(t)] = made


def _emit_submodel(record, members, new, walk):
    """Emits `members` as one new submodel like `record.model`, called on
    the `new` tensors it reads."""
    ins = _boundary_inputs(record, members, walk)
    outs = _boundary_outputs(record, members, walk)
    if not ins or not outs or any(id(t) not in new for t in ins):
        raise _NotNestable(record.model.name)
    inner = dict(zip((id(t) for t in ins), _inputs_like(record, ins, walk)))
    _emit(members, record.children, inner, walk, record.prefix)
    model = keras.Model(
        _single([inner[id(t)] for t in ins]),
        _single([inner[id(t)] for t in outs]),
        name=record.model.name,
    )
    if isinstance(record.model, keras.Sequential):
        model = nodes_lib.as_sequential(model) or model
    if not record.model.trainable:
        model.trainable = False
    _store(outs, model(_single([new[id(t)] for t in ins])), new)


def _single(tensors):
    return tensors[0] if len(tensors) == 1 else tensors


def _boundary_inputs(record, members, walk):
    """The rebuilt tensors that `members` read from outside: the tensors the
    submodel was called on first, then any a fold added."""
    produced = {id(t) for node in members for t in node.outputs}
    read = [t for node in members for t in node.input_tensors if id(t) not in produced]
    return _ordered(_mapped(record.inputs, walk), read)


def _boundary_outputs(record, members, walk):
    """The rebuilt tensors of `members` read outside them: the submodel's
    own outputs first, then any a fold added."""
    inside = {id(node) for node in members}
    leaving = [
        t
        for node in members
        for t in node.outputs
        if id(t) in walk.model_outputs
        or any(id(reader) not in inside for reader in walk.readers[id(t)])
    ]
    return _ordered(_mapped(record.outputs, walk), leaving)


def _mapped(originals, walk):
    return [walk.tensors.get(id(t)) for t in originals]


def _ordered(preferred, found):
    """The distinct tensors of `found`, those in `preferred` first."""
    found_ids = {id(t) for t in found}
    ordered, seen = [], set()
    for t in [*preferred, *found]:
        if id(t) in found_ids and id(t) not in seen:
            seen.add(id(t))
            ordered.append(t)
    return ordered


def _inputs_like(record, tensors, walk):
    """New `keras.Input`s for the submodel: named like the original's inputs
    where they are its own, `<source>_in` where a fold added them."""
    originals = nodes_lib.functional_graph(record.model).inputs
    own = {
        id(mapped): _layer_name(t)
        for mapped, t in zip(_mapped(record.inputs, walk), originals)
    }
    names = []
    for t in tensors:
        name = own.get(id(t)) or f"{_layer_name(t).rsplit('.', 1)[-1]}_in"
        while name in names:
            name += "_"
        names.append(name)
    return [
        keras.Input(batch_shape=t.shape, dtype=t.dtype, sparse=t.sparse, name=name)
        for t, name in zip(tensors, names)
    ]


def _layer_name(tensor):
    return internals.tensor_history(tensor)[0].name


def flat_operations(model, prefix=""):
    """`(name, operation)` for every operation of `model`, nested models'
    operations included and named `"<submodel>.<layer>"` as `flatten` names
    them; a submodel called more than once stays one operation."""
    fn = nodes_lib.functional_graph(model)
    nodes = nodes_lib.ordered_nodes(fn)
    calls = nodes_lib.call_counts(nodes)
    for node in nodes:
        op = node.operation
        if inlinable(op, calls[id(op)]):
            yield from flat_operations(op, f"{prefix}{op.name}.")
        else:
            yield prefix + op.name, op
