"""Calibration data: validation and batching.

Accepts what `Model.predict` accepts for inputs: a NumPy array (or a list /
dict of arrays for multi-input models), a pandas DataFrame, a
`tf.data.Dataset` (batched or not, elements `x`, `(x, y)` or `(x, y, w)`),
or a `keras.utils.PyDataset`. Labels and sample weights are ignored. Dict
data is matched to the model's inputs by name (the input's name, or its key
in a dict of model inputs). Batches come out as a flat list in the order of
`fn.inputs`, whatever the model's input nesting.

Arrays are checked whole before any work (shape, dtype, NaN/Inf) and
converted to the input's dtype batch by batch, so a large float64 array is
never copied whole. Datasets are checked as they stream: the counting step
flags NaN/Inf rows with the same error (`nonfinite_error`).
"""

import itertools
import math

import keras
import numpy as np
import tensorflow as tf

from keras_linprune.graph import keras_internals as internals

#: Batch size used when the data does not come batched.
DEFAULT_BATCH_SIZE = 1024

#: Fewest calibration rows accepted unless the caller says otherwise
#: (`min_rows=`): an activation rate over fewer says little.
MIN_ROWS = 8


def too_few_rows(rows, min_rows):
    """The error for calibration data of `rows` rows, below `min_rows`."""
    plural = "row" if rows == 1 else "rows"
    return ValueError(
        f"Expected at least {min_rows} calibration rows: an activation rate "
        "over fewer says little, and folds decided on them can be far off on "
        "other rows (on a digits MLP, one row folded 1,379 parameters to 21, "
        "off by 0.10 elsewhere). Pass more rows, or `min_rows=` to accept "
        f"fewer. Received: {rows} {plural}"
    )


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
        steps: Number of batches to use, or `None` for all (required for
            an infinite dataset).

    Attributes:
        num_batches: Number of batches, or `None` when unknown.
        rows: Number of rows, or `None` when unknown before iterating.
        names: The model's input names, in the order of `fn.inputs` (the
            keys of a dict of model inputs, else the inputs' names).

    Raises:
        TypeError: For data of an unsupported type.
        ValueError: For empty or infinite data (without `steps`), a shape or
            dtype that does not match the model's inputs, or non-finite
            values in arrays.

    Example:

    >>> import keras, numpy as np
    >>> x = keras.Input((3,)); m = keras.Model(x, keras.layers.Dense(1)(x))
    >>> cal = Calibration(np.zeros((10, 3)), m, batch_size=4)
    >>> cal.num_batches, [b[0].shape[0] for b in cal]
    (3, [4, 4, 2])
    """

    def __init__(self, data, fn, batch_size=None, steps=None, min_rows=None):
        self._inputs = list(fn.inputs)
        self._min_rows = min_rows
        self.names = input_names(fn)
        self._batch_size = batch_size or DEFAULT_BATCH_SIZE
        self._steps = steps
        self.rows = None
        self.num_batches = None
        if is_dataframe(data):
            data = data.to_numpy()
        if isinstance(data, tf.data.Dataset):
            self._iterate = self._init_dataset(data)
        elif isinstance(data, keras.utils.PyDataset):
            self._iterate = self._init_pydataset(data)
        elif _is_array_structure(data):
            self._iterate = self._init_arrays(data)
        else:
            raise TypeError(
                f"Expected calibration data to be {_ACCEPTED}. "
                f"Received: data of type {type(data).__name__}"
            )
        if steps is not None and self.num_batches is not None:
            self.num_batches = min(self.num_batches, steps)

    def progress_bar(self, verbose):
        """A progress bar over the batches (`None` when `verbose` is 0)."""
        if not verbose:
            return None
        return keras.utils.Progbar(self.num_batches, verbose=verbose, unit_name="batch")

    def __iter__(self):
        return itertools.islice(self._iterate(), self._steps)

    # Arrays --------------------------------------------------------------
    def _init_arrays(self, data):
        arrays = [np.asarray(a) for a in self._align(data)]
        for a, t, name in zip(arrays, self._inputs, self.names):
            self._check_shape(a.shape, t, batched=True)
            check_dtype(a.dtype, t, name)
        rows = {a.shape[0] for a in arrays}
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
        bs = self._batch_size
        for a, t, name in zip(arrays, self._inputs, self.names):
            _check_values(a, t, name, bs)
        if self._min_rows and self.rows < self._min_rows:
            raise too_few_rows(self.rows, self._min_rows)
        self.num_batches = math.ceil(self.rows / bs)

        def iterate():
            for start in range(0, self.rows, bs):
                yield [
                    _as_input(a[start : start + bs], t)
                    for a, t in zip(arrays, self._inputs)
                ]

        return iterate

    def _align(self, data):
        """Flattens `data` in the order of the model's inputs; dicts are
        matched by input name."""
        if isinstance(data, dict):
            for keys in (self.names, [t.name for t in self._inputs]):
                if all(k in data for k in keys):
                    return [data[k] for k in keys]
            raise ValueError(
                f"Expected calibration data for inputs {self.names}. "
                f"Received: keys {sorted(data)}"
            )
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
        for spec, t, name in zip(flat, self._inputs, self.names):
            self._check_shape(spec.shape, t, batched=batched)
            check_dtype(np.dtype(spec.dtype.as_numpy_dtype), t, name)
        if not batched:
            ds = ds.batch(self._batch_size)
        self.num_batches = _dataset_batches(ds, self._steps)

        def iterate():
            for element in ds:
                x = keras.utils.unpack_x_y_sample_weight(element)[0]
                yield [
                    tf.cast(a, t.dtype) if is_numeric_input(t) else a
                    for a, t in zip(self._align(x), self._inputs)
                ]

        return iterate

    # PyDataset -------------------------------------------------------------
    def _init_pydataset(self, ds):
        n = _pydataset_batches(ds)
        if n == 0:
            raise ValueError(
                "Expected a non-empty calibration PyDataset. "
                "Received: a PyDataset with 0 batches"
            )
        if n is None and self._steps is None:
            # Keras' `fit` treats it as infinite too (it needs
            # `steps_per_epoch`); reading until an IndexError could loop
            # forever.
            raise ValueError(
                "Expected a PyDataset with `__len__` (or `num_batches`), or "
                "`steps=` to bound the pass (as `model.fit` needs "
                "`steps_per_epoch`). Received: a PyDataset whose number of "
                f"batches is unknown ({type(ds).__name__})"
            )
        first = keras.utils.unpack_x_y_sample_weight(ds[0])[0]
        for a, t, name in zip(self._align(first), self._inputs, self.names):
            self._check_shape(np.shape(a), t, batched=True)
            check_dtype(np.asarray(a).dtype, t, name)
        self.num_batches = n

        def iterate():
            for i in range(n) if n is not None else _count_up():
                try:
                    element = ds[i]
                except IndexError:
                    return
                x = keras.utils.unpack_x_y_sample_weight(element)[0]
                yield [_as_input(a, t) for a, t in zip(self._align(x), self._inputs)]

        return iterate


def input_names(fn):
    """Per input of `fn.inputs`, the name users know it by: its key in a
    dict of model inputs, else the input's name."""
    inputs = list(fn.inputs)
    struct = internals.inputs_structure(fn)
    if isinstance(struct, dict):
        by_tensor = {id(t): k for k, t in struct.items()}
        if all(id(t) in by_tensor for t in inputs):
            return [by_tensor[id(t)] for t in inputs]
    return [t.name for t in inputs]


def _dataset_batches(ds, steps):
    """Number of batches of a batched dataset (`None`: unknown)."""
    cardinality = int(ds.cardinality())
    if cardinality == 0:
        raise ValueError(
            "Expected a non-empty calibration dataset. "
            "Received: a dataset with 0 elements"
        )
    if cardinality == tf.data.INFINITE_CARDINALITY and steps is None:
        raise ValueError(
            "Expected a finite calibration dataset, or `steps=` to bound the "
            "pass (as in `model.predict`). Received: an infinite dataset "
            "(e.g. from `.repeat()`)"
        )
    return cardinality if cardinality > 0 else None


def _pydataset_batches(ds):
    """Number of batches of a PyDataset (`None`: unknown): its
    `num_batches`, else its `len` (Keras raises `NotImplementedError` when
    it has neither)."""
    try:
        return ds.num_batches
    except NotImplementedError:
        return len(ds) if hasattr(ds, "__len__") else None


def _as_input(array, tensor):
    """`array` in the dtype of model input `tensor` (strings stay as they
    are: NumPy has no `string` dtype)."""
    if is_numeric_input(tensor):
        return np.asarray(array, dtype=tensor.dtype)
    return np.asarray(array)


def is_numeric_input(tensor):
    """Whether a model input takes real numbers (not strings or bools)."""
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    return "float" in dtype or "int" in dtype


def check_dtype(dtype, tensor, name):
    """Raises unless data of `dtype` can feed model input `tensor`: real
    numbers (ints or floats) for numeric inputs, strings for string ones."""
    expected = keras.backend.standardize_dtype(tensor.dtype)
    if is_numeric_input(tensor):
        ok = dtype.kind in "iuf"
        what = f"real numbers (ints or floats) for input '{name}' ({expected})"
    elif expected == "string":
        ok = dtype.kind in "USO"
        what = f"strings for input '{name}'"
    else:
        ok = dtype.kind != "O"
        what = f"{expected} data for input '{name}'"
    if not ok:
        raise ValueError(
            f"Expected calibration data of {what}. Received: dtype {dtype}"
        )


def _check_values(array, tensor, name, chunk):
    """Raises if a float array has NaN or Inf, or finite values that would
    overflow the input's narrower float dtype (float64 data beyond
    float32's range would become Inf), in one scan by chunks (no full-size
    temporary)."""
    if array.dtype.kind != "f":
        return
    limit = _narrower_limit(array.dtype, tensor)
    bad, largest = 0, 0.0
    for start in range(0, array.shape[0], chunk):
        part = array[start : start + chunk]
        bad += int(np.count_nonzero(~np.isfinite(part)))
        if limit is not None and not bad:
            largest = max(largest, float(np.abs(part).max(initial=0.0)))
    if bad:
        raise ValueError(
            f"Calibration data for input '{name}' contains NaN or Inf. "
            f"Received: {bad} non-finite values"
        )
    if limit is not None and largest > limit:
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        raise ValueError(
            f"Expected calibration data for input '{name}' within the range of "
            f"its dtype {dtype} (largest finite value {limit:.3g}). "
            f"Received: a value of magnitude {largest:.3g}"
        )


def _narrower_limit(dtype, tensor):
    """The largest finite value of the input's float dtype when it is
    narrower than the data's `dtype` (float16/float32 inputs; bfloat16 has
    float32's range), else `None`."""
    input_dtype = keras.backend.standardize_dtype(tensor.dtype)
    if input_dtype not in ("float16", "float32"):
        return None
    narrow = np.dtype(input_dtype)
    if narrow.itemsize >= dtype.itemsize:
        return None
    return float(np.finfo(narrow).max)


def nonfinite_error(names, batches):
    """The error for NaN/Inf found while streaming a dataset."""
    which = ", ".join(f"'{n}'" for n in names)
    return ValueError(
        f"Calibration data for input{'s' if len(names) > 1 else ''} {which} "
        f"contains NaN or Inf. Received: non-finite values in {batches} batch(es)"
    )


def _count_up():
    i = 0
    while True:
        yield i
        i += 1


def is_dataframe(data):
    """Whether `data` is a pandas DataFrame (without importing pandas)."""
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


def in_memory(data):
    """Whether `data` is held in memory: a NumPy array, a list or dict of
    arrays, or a pandas DataFrame (not a dataset)."""
    return is_dataframe(data) or _is_array_structure(data)


#: Every `HOLDOUT_EVERY`-th row is held out by `holdout`.
HOLDOUT_EVERY = 5

#: Fewest rows `holdout` splits (fewer: no split).
HOLDOUT_MIN_ROWS = 50


def holdout(data):
    """`(fit, held_out)`: in-memory calibration data split by rows, every
    `HOLDOUT_EVERY`-th row held out (interleaved, so that sorted data
    splits evenly), or `None` for data that is not held in memory (a
    dataset) or has fewer than `HOLDOUT_MIN_ROWS` rows.

    A size target compares plans on the held-out rows after fitting them
    on the others, so a refit that overfits the rows it saw is not
    mistaken for a faithful plan.

    Example:

    >>> fit, held = holdout(np.arange(100.0).reshape(50, 2))
    >>> fit.shape, held.shape, held[0].tolist()
    ((40, 2), (10, 2), [8.0, 9.0])
    """
    if is_dataframe(data):
        data = data.to_numpy()
    if not in_memory(data):
        return None
    parts = list(data.values()) if isinstance(data, dict) else data
    if isinstance(parts, (list, tuple)):
        rows = {len(np.asarray(p)) for p in parts}
    else:
        rows = {len(np.asarray(parts))}
    if len(rows) != 1 or rows.pop() < HOLDOUT_MIN_ROWS:
        return None

    def split(array):
        array = np.asarray(array)
        held = np.zeros(len(array), bool)
        held[HOLDOUT_EVERY - 1 :: HOLDOUT_EVERY] = True
        return array[~held], array[held]

    if isinstance(data, dict):
        pairs = {k: split(v) for k, v in data.items()}
        return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
    if isinstance(data, (list, tuple)):
        pairs = [split(v) for v in data]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return split(data)
