"""Calibration data: validation and batching.

Accepts what `Model.predict` accepts for inputs: a NumPy array (or a list /
dict of arrays for multi-input models), a pandas DataFrame, a
`tf.data.Dataset` (batched or not, elements `x`, `(x, y)` or `(x, y, w)`),
or a `keras.utils.PyDataset`. Labels and sample weights are ignored.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_linprune.graph import keras_internals as internals

#: Batch size used when the data does not come batched.
DEFAULT_BATCH_SIZE = 1024

_ACCEPTED = (
    "a NumPy array (or a list/dict of arrays for multi-input models), a "
    "pandas DataFrame, a tf.data.Dataset or a keras.utils.PyDataset"
)


class Calibration:
    """Validated calibration data, iterable as batches of model inputs.

    Args:
        data: The user's data (see module docstring).
        fn: The functional model the data is for.
        batch_size: Rows per batch for unbatched data; `None` uses
            `DEFAULT_BATCH_SIZE`. Ignored for batched datasets.

    Attributes:
        num_batches: Number of batches, or `None` when unknown.
        rows: Number of rows, or `None` when unknown before iterating.

    Raises:
        TypeError: For data of an unsupported type.
        ValueError: For empty data, a feature shape that does not match the
            model's inputs, or non-finite values in arrays.

    Example:

    >>> import keras, numpy as np
    >>> x = keras.Input((3,)); m = keras.Model(x, keras.layers.Dense(1)(x))
    >>> cal = Calibration(np.zeros((10, 3)), m, batch_size=4)
    >>> cal.num_batches, [b.shape[0] for b in cal]
    (3, [4, 4, 2])
    """

    def __init__(self, data, fn, batch_size=None):
        self._inputs = list(fn.inputs)
        self._struct = internals.inputs_structure(fn)
        self._batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.rows = None
        self.num_batches = None
        if _is_dataframe(data):
            data = data.to_numpy(dtype=self._inputs[0].dtype)
        if isinstance(data, tf.data.Dataset):
            self._init_dataset(data)
        elif isinstance(data, keras.utils.PyDataset):
            self._init_pydataset(data)
        elif _is_array_structure(data):
            self._init_arrays(data)
        else:
            raise TypeError(
                f"Expected calibration data to be {_ACCEPTED}. "
                f"Received: data of type {type(data).__name__}"
            )

    def __iter__(self):
        return self._iterate()

    # Arrays --------------------------------------------------------------
    def _init_arrays(self, data):
        arrays = self._align(data)
        arrays = [np.asarray(a, dtype=t.dtype) for a, t in zip(arrays, self._inputs)]
        rows = {a.shape[0] if a.ndim else 0 for a in arrays}
        for a, t in zip(arrays, self._inputs):
            self._check_shape(a.shape, t, batched=True)
        if len(rows) > 1:
            raise ValueError(
                "Expected every model input to have the same number of rows. "
                f"Received: row counts {sorted(rows)}"
            )
        self.rows = rows.pop()
        if self.rows == 0:
            raise ValueError(
                "Expected calibration data with at least one row. Received: 0 rows"
            )
        for a, t in zip(arrays, self._inputs):
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise ValueError(
                    f"Calibration data for input '{t.name}' contains NaN or "
                    f"Inf. Received: {np.count_nonzero(~np.isfinite(a))} "
                    "non-finite values"
                )
        self.num_batches = math.ceil(self.rows / self._batch_size)
        bs = self._batch_size

        def iterate():
            for start in range(0, self.rows, bs):
                yield self._pack([a[start : start + bs] for a in arrays])

        self._iterate = iterate

    def _align(self, data):
        """Flattens `data` in the order of the model's inputs."""
        if isinstance(data, dict):
            names = [t.name for t in self._inputs]
            if isinstance(self._struct, dict):
                names = list(self._struct)
            missing = [n for n in names if n not in data]
            if missing:
                raise ValueError(
                    f"Expected calibration data for inputs {names}. "
                    f"Received: keys {sorted(data)}"
                )
            return [data[n] for n in names]
        if isinstance(data, (list, tuple)) and len(self._inputs) > 1:
            if len(data) != len(self._inputs):
                raise ValueError(
                    f"Expected {len(self._inputs)} input arrays, one per "
                    f"model input. Received: {len(data)} arrays"
                )
            return list(data)
        if len(self._inputs) > 1:
            raise ValueError(
                f"Expected {len(self._inputs)} input arrays (a list or dict) "
                "for this multi-input model. Received: a single array"
            )
        return [data]

    def _pack(self, flat):
        if isinstance(self._struct, dict):
            return dict(zip(self._struct, flat))
        if isinstance(self._struct, (list, tuple)):
            return list(flat)
        return flat[0]

    def _check_shape(self, shape, tensor, batched):
        expected = tuple(tensor.shape)
        got = tuple(shape) if batched else (None,) + tuple(shape)
        ok = len(got) == len(expected) and all(
            e is None or g is None or e == g for e, g in zip(expected[1:], got[1:])
        )
        if not ok:
            raise ValueError(
                f"Expected calibration data of shape {expected} for model "
                f"input '{tensor.name}'. Received: data of shape {got}"
            )

    # tf.data ---------------------------------------------------------------
    def _init_dataset(self, ds):
        x_spec = keras.utils.unpack_x_y_sample_weight(ds.element_spec)[0]
        flat = self._align(x_spec)
        batched = len(flat[0].shape) == len(self._inputs[0].shape)
        for spec, t in zip(flat, self._inputs):
            self._check_shape(spec.shape, t, batched=batched)
        if not batched:
            ds = ds.batch(self._batch_size)
        cardinality = int(ds.cardinality())
        if cardinality == 0:
            raise ValueError(
                "Expected a non-empty calibration dataset. "
                "Received: a dataset with 0 elements"
            )
        if cardinality > 0:
            self.num_batches = cardinality

        def iterate():
            for element in ds:
                x = keras.utils.unpack_x_y_sample_weight(element)[0]
                yield self._pack(
                    [tf.cast(a, t.dtype) for a, t in zip(self._align(x), self._inputs)]
                )

        self._iterate = iterate

    # PyDataset -------------------------------------------------------------
    def _init_pydataset(self, ds):
        n = ds.num_batches
        if n == 0:
            raise ValueError(
                "Expected a non-empty calibration PyDataset. "
                "Received: a PyDataset with 0 batches"
            )
        first = keras.utils.unpack_x_y_sample_weight(ds[0])[0]
        for a, t in zip(self._align(first), self._inputs):
            self._check_shape(np.shape(a), t, batched=True)
        self.num_batches = n

        def iterate():
            for i in range(n) if n is not None else _count_up():
                try:
                    element = ds[i]
                except IndexError:
                    return
                x = keras.utils.unpack_x_y_sample_weight(element)[0]
                flat = [
                    np.asarray(a, dtype=t.dtype)
                    for a, t in zip(self._align(x), self._inputs)
                ]
                yield self._pack(flat)

        self._iterate = iterate


def _count_up():
    i = 0
    while True:
        yield i
        i += 1


def _is_dataframe(data):
    return type(data).__name__ == "DataFrame" and hasattr(data, "to_numpy")


def _is_array_structure(data):
    if isinstance(data, np.ndarray):
        return True
    if isinstance(data, dict):
        return bool(data) and all(_is_array_like(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return bool(data) and all(_is_array_like(v) for v in data)
    return _is_array_like(data) and not isinstance(data, (str, bytes))


def _is_array_like(value):
    return isinstance(value, np.ndarray) or hasattr(value, "__array__")
