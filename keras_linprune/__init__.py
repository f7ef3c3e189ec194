"""keras_linprune: linearity-based compression for Keras 3 models.

>>> import keras_linprune as linprune
>>> small, report = linprune.apply(model, x_calib)   # doctest: +SKIP

The package is the pipeline: `analysis` -> `measurement/` -> `plan/` ->
`rebuild/` -> `report`, with `core/` (pure NumPy) and `graph/` (the Keras
boundary) beneath. The public names are imported on first use, so that
importing the package (e.g. for the `linprune` command) does not load
TensorFlow before the command has configured its logging.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "apply": "keras_linprune.api",
    "measure": "keras_linprune.api",
    "sweep": "keras_linprune.sweep",
    "finetune": "keras_linprune.distillation",
    "prune_by_activation": "keras_linprune.baselines.prune",
    "summary": "keras_linprune.report",
    "ActivationStats": "keras_linprune.measurement.stats",
    "StatsFileError": "keras_linprune.files.stats_file",
}

#: Submodules reachable as attributes (`linprune.plot.site_breakdown`).
_MODULES = ("plot", "bench", "export")

__all__ = [*_EXPORTS, *_MODULES, "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"keras_linprune.{name}")
    else:
        raise AttributeError(f"module 'keras_linprune' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
