"""One analysis of a model, shared by every entry point.

`analyse(model)` runs graph -> flatten -> sites once; `apply`, `measure`,
`sweep` and `prune_by_activation` all start from the resulting `Analysis`
instead of repeating those steps, and `sweep` reuses one analysis for every
threshold.
"""

import dataclasses
import functools

import keras

from keras_linprune.graph import copier
from keras_linprune.graph import flatten as flatten_lib
from keras_linprune.graph import nodes as nodes_lib
from keras_linprune.graph import sites as sites_lib
from keras_linprune.measurement import fingerprint as fingerprint_lib


@dataclasses.dataclass(frozen=True)
class Analysis:
    """A model, its flat functional graph and its fold sites.

    Attributes:
        model: The user's model (never modified).
        fn: The functional graph it runs, nested models inlined.
        found: The fold sites of `fn` (`graph.sites.FoundSites`).
        inlined: The nested models `fn` inlined (`graph.flatten.Inlined`),
            which the rebuild nests again.
    """

    model: keras.Model
    fn: keras.Model
    found: sites_lib.FoundSites
    inlined: tuple = ()

    @property
    def spec(self):
        """The Keras-free `core.spec.GraphSpec` the planner works on."""
        return self.found.spec

    @functools.cached_property
    def fingerprint(self):
        """Digest of the site structure and weights (`measure.fingerprint`)."""
        return fingerprint_lib.fingerprint(self.fn, self.spec)

    @functools.cached_property
    def layer_order(self):
        """Layer name -> position in the graph, for the report."""
        return {
            n.operation.name: i for i, n in enumerate(nodes_lib.ordered_nodes(self.fn))
        }

    @functools.cached_property
    def operations(self):
        """Layer (or operation) name -> the layer in the flat graph."""
        return {op.name: op for op in self.fn.operations}

    @functools.cached_property
    def layer_params(self):
        """Layer name -> its parameter count in the original model."""
        return {
            n.operation.name: nodes_lib.params_of(n.operation)
            for n in nodes_lib.ordered_nodes(self.fn)
        }


def analyse(model, check_copies=True):
    """The `Analysis` of a functional or Sequential Keras model.

    `check_copies=False` skips re-creating every layer from its config
    (what building a compressed model needs; 14 ms on the 2.8M MLP):
    `measure` copies nothing but the nested models it inlines, and those
    copies raise the same error.

    Raises:
        TypeError / ValueError: For a non-Keras, subclassed or unbuilt
            model (`graph.model_checks.check_model`), or a layer that cannot be
            re-created from its config (`graph.copier.check_copyable`).

    Example:

    >>> import keras
    >>> x = keras.Input((4,))
    >>> h = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    >>> a = analyse(keras.Model(x, keras.layers.Dense(1, name="out")(h)))
    >>> [s.name for s in a.spec.sites], a.spec.total_params
    (['hidden'], 49)
    """
    fn = nodes_lib.functional_graph(model)
    if check_copies:
        copier.check_copyable(fn)
    fn, inlined = flatten_lib.flatten(fn)
    return Analysis(model, fn, sites_lib.find_sites(fn), inlined)
