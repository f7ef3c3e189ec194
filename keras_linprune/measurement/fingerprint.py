"""A digest of a model's site structure and weights.

`ActivationStats` carry it, so that statistics used with another model, or
after training went on, are refused. Every byte of every weight is hashed:
any change to any weight changes the digest (a 2.8M-parameter model is
11 MB, a few milliseconds of hashing).
"""

import hashlib
import re

import numpy as np

from keras_linprune.graph import keras_internals as internals

#: Keras names a weight created without a name `variable`, numbered per
#: process (`variable_18`); a copy of the same layer gets another number.
_AUTO_NAME = re.compile(r"/variable_\d+$")


def fingerprint(fn, spec):
    """Digest of a model's site structure and of every weight's bytes.

    Example:

    >>> import keras
    >>> from keras_linprune.core.spec import GraphSpec
    >>> x = keras.Input((2,))
    >>> m = keras.Model(x, keras.layers.Dense(1)(x))
    >>> spec = GraphSpec({}, (), (), 3)
    >>> before = fingerprint(m, spec)
    >>> _ = m.layers[1].kernel.assign([[1.0], [2.0]])
    >>> fingerprint(m, spec) == before
    False
    """
    h = hashlib.blake2b(digest_size=16)
    for site in spec.sites:
        h.update(f"{site.name}|{site.width}|{site.consumers};".encode())
    for w in fn.weights:
        value = np.ascontiguousarray(internals.to_numpy(w))
        path = _AUTO_NAME.sub("/variable", w.path)  # stable across copies
        h.update(f"{path}|{value.shape}|{value.dtype};".encode())
        h.update(value.reshape(-1).view(np.uint8))  # the buffer, not a copy
    return h.hexdigest()
