"""The Keras boundary: graphs, layer kinds, activations, site matching.

* `keras_internals` is the only module reading private Keras attributes;
* `nodes` walks a functional graph, `copier` copies layers faithfully,
  `flatten` inlines nested models;
* `registry` maps every layer class to its kind (`kinds/`), the one place
  that knows what a layer type allows;
* `activations` turns activation functions into pieces;
* `sites` finds the fold sites and describes them without Keras
  (`core.spec`).
"""
