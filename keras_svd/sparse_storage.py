"""Sparse files: a pruned model's kept weights only, and its architecture.

`save_sparse` writes one compressed NumPy `.npz` archive: the model's
config (JSON) and, for each variable of `model.weights`, either its kept
(nonzero) values with their positions, or its dense value when that is not
smaller (biases, BatchNormalization statistics). `load_sparse` reads it
back, into a new model or into one you built.
"""

import json
import os
import zipfile

import keras
import numpy as np

from keras_svd.model_utils import variational_layers
from keras_svd.strip import strip_variational
from keras_svd.validation import check_bool
from keras_svd.validation import check_path

FORMAT = "keras_svd.sparse/1"


def save_sparse(model, path, overwrite=False):
    """Saves `model`'s architecture and its nonzero weights to `path`.

    A pruned kernel in a `.keras` file takes its full size, zeros included
    (LeNet-300-100: 1.07 MB of float32 weights however many are pruned).
    Here a variable that is at least half zeros is stored as its nonzero
    values (in its own dtype, exactly) and their flat positions, as the gaps
    between successive positions in the smallest unsigned integer type that
    holds them; other variables are stored dense. The archive is compressed
    (`numpy.savez_compressed`). A variational model is first stripped with
    `keras_svd.strip_variational` (the pruned kernels, no `log_sigma2`), so
    the file holds plain Keras layers and `load_sparse` returns the
    stripped model.

    Args:
        model: a built functional or `Sequential` model.
        path: the file to write (a `str` or `os.PathLike`; conventionally
            ending in `.npz`, nothing is appended).
        overwrite: replace an existing file; otherwise an existing `path`
            raises a `ValueError` (a missing folder, a `FileNotFoundError`).

    Returns:
        The size of the written file in bytes.

    Example:

    ```python
    keras_svd.save_sparse(model, "lenet.npz")
    restored = keras_svd.load_sparse("lenet.npz")
    ```
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"save_sparse expects a keras.Model. Received: model={model!r}"
        )
    overwrite = check_bool(overwrite, "overwrite")
    path = check_path(path, "path")
    if os.path.exists(path) and not overwrite:
        raise ValueError(
            f"The file exists; pass overwrite=True to replace it. "
            f"Received: path={path!r}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"The folder {folder} does not exist. Received: path={path!r}"
        )
    if variational_layers(model):
        model = strip_variational(model)
    config = keras.saving.serialize_keras_object(model)
    arrays = {
        "format": np.array(FORMAT),
        "config": np.array(json.dumps(config)),
        "names": np.array([v.path for v in model.weights] or [""]),
    }
    for i, value in enumerate(model.get_weights()):
        value = np.asarray(value)
        arrays[f"{i}.shape"] = np.array(value.shape, dtype="int64")
        positions = np.flatnonzero(value)
        if value.dtype.kind == "f" and 2 * positions.size < value.size:
            gaps = np.diff(positions, prepend=-1)
            arrays[f"{i}.gaps"] = gaps.astype(_smallest_uint(gaps))
            arrays[f"{i}.values"] = value.reshape(-1)[positions]
        else:
            arrays[f"{i}.dense"] = value
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays)
    return os.path.getsize(path)


def load_sparse(path, model=None):
    """Reads a file of `save_sparse` back into a model.

    Args:
        path: a file written by `save_sparse`.
        model: None to rebuild the saved architecture from its config (the
            custom layers must be registered: `import keras_svd` registers
            its own), or a built model of the same architecture, whose
            weights are set from the file.

    Returns:
        The model with the saved weights (the new one, or `model`); the
        zeros of the pruned weights are dense again, so it computes exactly
        what the saved model did.

    Raises:
        TypeError: when `path` is not a `str` or `os.PathLike`.
        FileNotFoundError: when `path` does not exist.
        ValueError: when `path` is not a file of `save_sparse` (a folder,
            corrupt, truncated, another format), or when `model`'s weights
            do not match the file's.
    """
    path = check_path(path, "path")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file. Received: path={path!r}")
    if not os.path.isfile(path):
        raise ValueError(f"path is not a file. Received: path={path!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive["format"]) != FORMAT:
                raise ValueError(f"format {str(archive['format'])!r}")
            config = json.loads(str(archive["config"]))
            names = [str(n) for n in archive["names"] if str(n)]
            values = [_read_variable(archive, i) for i in range(len(names))]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(
            "The file is not a readable keras_svd sparse file "
            f"({FORMAT}): {type(e).__name__}: {e}. Received: path={path!r}"
        ) from e
    if model is None:
        model = keras.saving.deserialize_keras_object(config)
    elif not isinstance(model, keras.Model):
        raise ValueError(
            f"model must be None or a keras.Model. Received: model={model!r}"
        )
    shapes = [tuple(v.shape) for v in model.weights]
    if shapes != [v.shape for v in values]:
        raise ValueError(
            f"The model's {len(shapes)} variables do not match the file's "
            f"{len(values)} ({', '.join(names[:4])}, ...): build the saved "
            f"architecture, or pass model=None. Received: model={model.name!r}"
        )
    model.set_weights(values)
    return model


def _smallest_uint(values):
    largest = int(values.max()) if values.size else 0
    for dtype in ("uint8", "uint16", "uint32"):
        if largest <= np.iinfo(dtype).max:
            return dtype
    return "uint64"


def _read_variable(archive, i):
    shape = tuple(int(d) for d in archive[f"{i}.shape"])
    if f"{i}.dense" in archive:
        value = archive[f"{i}.dense"]
        if value.shape != shape:
            raise ValueError(f"variable {i} has shape {value.shape}")
        return value
    values = archive[f"{i}.values"]
    positions = np.cumsum(archive[f"{i}.gaps"].astype("int64")) - 1
    size = int(np.prod(shape))
    if positions.shape != values.shape or (
        positions.size and (positions[0] < 0 or positions[-1] >= size)
    ):
        raise ValueError(f"variable {i} has positions out of range")
    dense = np.zeros(size, values.dtype)
    dense[positions] = values
    return dense.reshape(shape)


__all__ = ["load_sparse", "save_sparse"]
