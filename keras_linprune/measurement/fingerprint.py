"""A digest of a model's site structure and weights.

`ActivationStats` carry it, so that statistics used with another model, or
after training went on, are refused. Every byte of every weight is hashed:
any change to any weight changes the digest (a 2.8M-parameter model is
11 MB, a few milliseconds of hashing). SHA-256: about twice as fast as
BLAKE2b where the CPU has SHA instructions (6 ms against 12 ms for that
model). Digests carry their algorithm (`PREFIX`), so statistics measured
by an earlier version, with another one, are told apart from statistics
of another model.
"""

import hashlib

import keras
import numpy as np

#: Start of every fingerprint this version makes.
PREFIX = "sha256:"


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
    h = hashlib.sha256()
    for site in spec.sites:
        h.update(f"{site.name}|{site.width}|{site.consumers};".encode())
    for w in fn.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(w))
        h.update(f"{w.path}|{value.shape}|{value.dtype};".encode())
        h.update(value.reshape(-1).view(np.uint8))  # the buffer, not a copy
    return PREFIX + h.hexdigest()


def mismatch(stored, stats_model, model):
    """The message for statistics whose fingerprint `stored` is not the
    model's: measured by an earlier version (another algorithm), or on
    another model or other weights."""
    if not stored.startswith(PREFIX):
        return (
            "The activation statistics were measured by an earlier version of "
            "keras_linprune, whose model fingerprints this version does not "
            "compare. Measure again with `linprune.measure(model, data)`. "
            f"Received: stats of model {stats_model!r} with fingerprint "
            f"{stored[:12]!r}..."
        )
    return (
        "The activation statistics were measured on a different model "
        "(or its weights changed since). Measure again with "
        "`linprune.measure(model, data)`. Received: stats of model "
        f"{stats_model!r} for model {model!r}"
    )
