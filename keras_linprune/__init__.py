"""keras_linprune: linearity-based compression for Keras 3 models.

>>> import keras_linprune as linprune
>>> small, report = linprune.apply(model, x_calib)   # doctest: +SKIP
"""

from keras_linprune import plot
from keras_linprune.api import apply
from keras_linprune.measurement import measure
from keras_linprune.prune import prune_by_activation
from keras_linprune.report import summary
from keras_linprune.stats import ActivationStats
from keras_linprune.sweep import sweep

__version__ = "0.1.0"

__all__ = ["apply", "measure", "sweep", "prune_by_activation", "summary",
           "plot", "ActivationStats", "__version__"]
