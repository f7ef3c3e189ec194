"""keras_linprune: linearity-based compression for Keras 3 models.

>>> import keras_linprune as linprune
>>> small, report = linprune.apply(model, x_calib)   # doctest: +SKIP
"""

from keras_linprune.api import apply
from keras_linprune.measurement import measure
from keras_linprune.report import summary
from keras_linprune.stats import ActivationStats

__version__ = "0.1.0"

__all__ = ["apply", "measure", "summary", "ActivationStats", "__version__"]
