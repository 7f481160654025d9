"""Fixtures shared by the keras_svd.datasets tests: small IDX files."""

import gzip
import os
import struct

import numpy as np
import pytest

from keras_svd.datasets import default_fashion_mnist_dir
from keras_svd.datasets import default_mnist_dir

_TYPE_CODES = {
    np.dtype("uint8"): 0x08,
    np.dtype("int8"): 0x09,
    np.dtype("int16"): 0x0B,
    np.dtype("int32"): 0x0C,
    np.dtype("float32"): 0x0D,
    np.dtype("float64"): 0x0E,
}


def _idx_bytes(array):
    """Encodes `array` in the IDX format (uncompressed)."""
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, _TYPE_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    return header + big_endian.tobytes()


def _write_idx(path, array, compress):
    data = _idx_bytes(array)
    if compress:
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _make_idx_folder(folder, num_train=20, num_test=10, seed=0, compress=True):
    """Writes a tiny MNIST-like folder; returns its arrays."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", num_train), ("t10k", num_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        suffix = ".gz" if compress else ""
        _write_idx(
            os.path.join(folder, f"{prefix}-images-idx3-ubyte{suffix}"),
            images,
            compress,
        )
        _write_idx(
            os.path.join(folder, f"{prefix}-labels-idx1-ubyte{suffix}"),
            labels,
            compress,
        )
        arrays["train" if prefix == "train" else "test"] = (images, labels)
    return arrays


def _require_real_data(folder):
    """Skips if `folder` is missing, except on CI (CI=true): fails there."""
    if os.path.isdir(folder):
        return
    message = (
        f"Real dataset folder {folder} not found (set KERAS_SVD_MNIST_DIR / "
        f"KERAS_SVD_FASHION_MNIST_DIR or run from the project root)."
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch):
    # A developer's local-data setting must not change what the tests load.
    monkeypatch.delenv("KERAS_SVD_LOCAL_DATA", raising=False)
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)


@pytest.fixture
def write_idx():
    """`write_idx(path, array, compress)` writes one IDX file."""
    return _write_idx


@pytest.fixture
def idx_bytes():
    """`idx_bytes(array)` encodes an array in the IDX format."""
    return _idx_bytes


@pytest.fixture
def make_idx_folder():
    """`make_idx_folder(folder, num_train, num_test, seed, compress)`.

    Writes a tiny MNIST-like folder of random images and returns
    `{"train": (images, labels), "test": (images, labels)}`.
    """
    return _make_idx_folder


@pytest.fixture
def tiny_mnist(tmp_path):
    """A folder with 20 train / 10 test random images: (folder, arrays)."""
    folder = str(tmp_path / "src" / "mnist")
    return folder, _make_idx_folder(folder)


@pytest.fixture
def real_mnist_dir():
    folder = default_mnist_dir()
    _require_real_data(folder)
    return folder


@pytest.fixture
def real_fashion_mnist_dir():
    folder = default_fashion_mnist_dir()
    _require_real_data(folder)
    return folder
