"""Reading the command line's input files: a Keras model and calibration data.

Every problem with a file is a `FileProblem` (a `ValueError`) whose message
says what is wrong with which file, raised before any compression runs.
Models load in Keras' safe mode: a `.keras` file cannot run code on load.
"""

import os
import zipfile

import numpy as np

#: Model file suffixes Keras loads.
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
#: Calibration data file suffixes.
DATA_SUFFIXES = (".npy", ".npz", ".csv")


class FileProblem(ValueError):
    """A user's file that cannot be used, with what is wrong with it."""


def check_readable(path, what, suffixes):
    """Raises `FileProblem` unless `path` is an existing file with one of
    `suffixes`."""
    if not os.path.exists(path):
        raise FileProblem(f"no such {what} file: {path}")
    if not os.path.isfile(path):
        raise FileProblem(f"the {what} path is not a file: {path}")
    if not path.lower().endswith(suffixes):
        raise FileProblem(
            f"expected a {what} file ending in {', '.join(suffixes)}; received: {path}"
        )


def load_model(path):
    """Loads a Keras model file in safe mode, with a clear error for a file
    that is not a model."""
    check_readable(path, "model", MODEL_SUFFIXES)
    if path.lower().endswith(".keras") and not zipfile.is_zipfile(path):
        raise FileProblem(
            f"{path} is not a valid .keras file (a .keras file is a zip "
            "archive; this one is truncated, corrupt or something else)"
        )
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - any failure: not a usable model
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FileProblem(f"cannot load the model {path}: {first}") from None


def load_data(path):
    """Calibration inputs from a `.npy` array, an `.npz` archive (one array,
    or one per model input keyed by input name) or a numeric `.csv` table
    (a header row is skipped)."""
    check_readable(path, "data", DATA_SUFFIXES)
    try:
        if path.lower().endswith(".npy"):
            return np.load(path, allow_pickle=False)
        if path.lower().endswith(".npz"):
            return _load_npz(path)
        return _load_csv(path)
    except FileProblem:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise FileProblem(f"cannot read the data file {path}: {e}") from None


def load_eval_data(path):
    """Evaluation data `(x, y)` from an `.npz` archive holding the targets as
    `y` and the inputs as `x` (or one array per model input name)."""
    check_readable(path, "evaluation data", (".npz",))
    try:
        arrays = _load_npz(path)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise FileProblem(f"cannot read the evaluation data {path}: {e}") from None
    if not isinstance(arrays, dict) or "y" not in arrays:
        raise FileProblem(
            f"expected the evaluation data {path} to hold the targets as `y` "
            "and the inputs as `x` (or one array per input name); received "
            f"arrays {sorted(arrays) if isinstance(arrays, dict) else ['(one)']}"
        )
    y = arrays.pop("y")
    x = arrays.pop("x") if set(arrays) == {"x"} else arrays
    return x, y


def _load_npz(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if not arrays:
        raise FileProblem(f"the data file {path} holds no arrays")
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    return arrays


def _load_csv(path):
    import pandas as pd

    frame = pd.read_csv(path, header=None)
    if len(frame) and not _numeric_row(frame.iloc[0]):
        frame = frame.iloc[1:]  # a header row
    try:
        values = frame.to_numpy(dtype=np.float32)
    except ValueError:
        raise FileProblem(
            f"the data file {path} has non-numeric values; expected a table of "
            "numbers (one row per sample, an optional header row)"
        ) from None
    return values


def _numeric_row(row):
    try:
        row.astype(float)
    except ValueError:
        return False
    return True
