"""Tests for keras_svd.datasets.idx: the IDX reader and folder loader."""

import gzip
import os
import pathlib

import numpy as np
import pytest

from keras_svd.datasets import default_fashion_mnist_dir
from keras_svd.datasets import default_mnist_dir
from keras_svd.datasets import load_idx
from keras_svd.datasets import read_idx

_DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.normal(scale=1e3, size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(
        dtype
    )


# read_idx


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("dtype", _DTYPES)
def test_read_idx_round_trips_every_type_code(
    tmp_path, write_idx, dtype, compress
):
    array = _sample(dtype, (3, 4, 5))
    path = write_idx(str(tmp_path / "a.idx"), array, compress)

    result = read_idx(path)

    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    assert result.shape == (3, 4, 5)
    np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 1, 3, 2), (0, 28, 28)])
def test_read_idx_keeps_the_header_shape(tmp_path, write_idx, shape):
    array = _sample("uint8", shape)
    path = write_idx(str(tmp_path / "a.idx"), array, compress=False)

    np.testing.assert_array_equal(read_idx(path), array)
    assert read_idx(path).shape == shape


def test_read_idx_detects_gzip_by_magic_not_suffix(tmp_path, write_idx):
    array = _sample("int16", (4, 6))
    gz_without_suffix = write_idx(str(tmp_path / "plain-name"), array, True)
    raw_with_suffix = write_idx(str(tmp_path / "name.gz"), array, False)

    np.testing.assert_array_equal(read_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), array)


def test_read_idx_accepts_pathlib_and_returns_writable_array(
    tmp_path, write_idx
):
    array = _sample("uint8", (2, 2))
    path = pathlib.Path(write_idx(str(tmp_path / "a.idx"), array, True))

    result = read_idx(path)
    result[0, 0] = 1  # Would raise on a read-only view of the file buffer.


@pytest.mark.parametrize(
    "content",
    [
        b"\x01\x00\x08\x01\x00\x00\x00\x01\x05",  # First byte not zero.
        b"\x00\x00\x0a\x01\x00\x00\x00\x01\x05",  # Unknown type code 0x0A.
        b"PK\x03\x04 not an idx file at all",
        b"\x00\x00",  # Shorter than the 4-byte magic number.
    ],
    ids=["nonzero-prefix", "unknown-type", "zip", "too-short"],
)
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_read_idx_rejects_bad_magic_naming_the_path(
    tmp_path, content, compress
):
    path = tmp_path / "bad-idx"
    path.write_bytes(gzip.compress(content) if compress else content)

    with pytest.raises(ValueError, match=r"Received: path=.*bad-idx"):
        read_idx(path)


def test_read_idx_rejects_truncated_data(tmp_path, idx_bytes):
    path = tmp_path / "truncated"
    path.write_bytes(idx_bytes(_sample("int32", (10,)))[:-3])

    with pytest.raises(ValueError, match=r"truncated.*Received: path=.*"):
        read_idx(path)


def test_read_idx_rejects_truncated_header(tmp_path, idx_bytes):
    path = tmp_path / "short-header"
    path.write_bytes(idx_bytes(_sample("uint8", (2, 3, 4)))[:10])

    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_read_idx_rejects_truncated_gzip_stream(tmp_path, idx_bytes):
    path = tmp_path / "cut.gz"
    compressed = gzip.compress(idx_bytes(_sample("uint8", (50, 28, 28))))
    path.write_bytes(compressed[: len(compressed) // 2])

    with pytest.raises(ValueError, match=r"Received: path=.*cut\.gz"):
        read_idx(path)


def test_read_idx_rejects_trailing_bytes(tmp_path, idx_bytes):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(_sample("uint8", (4,))) + b"\x00\x00")

    with pytest.raises(ValueError, match="longer than expected"):
        read_idx(path)


def test_read_idx_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: path="):
        read_idx(tmp_path / "nope.gz")


@pytest.mark.parametrize("path", [None, 3, 3.5])
def test_read_idx_rejects_a_path_of_the_wrong_type(path):
    with pytest.raises(TypeError, match=f"Received: path={path!r}"):
        read_idx(path)


def test_read_idx_rejects_a_folder_naming_the_argument(tmp_path):
    with pytest.raises(ValueError, match="path is a folder.*Received: path="):
        read_idx(tmp_path)


# load_idx


def test_load_idx_reads_a_tiny_folder(tmp_path, make_idx_folder):
    arrays = make_idx_folder(str(tmp_path), num_train=20, num_test=10)

    (x_train, y_train), (x_test, y_test) = load_idx(tmp_path)

    assert x_train.shape == (20, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (20,) and y_train.dtype == np.uint8
    assert x_test.shape == (10, 28, 28) and y_test.shape == (10,)
    np.testing.assert_array_equal(x_train, arrays["train"][0])
    np.testing.assert_array_equal(y_train, arrays["train"][1])
    np.testing.assert_array_equal(x_test, arrays["test"][0])
    np.testing.assert_array_equal(y_test, arrays["test"][1])


def test_load_idx_accepts_plain_and_gz_names_mixed(tmp_path, make_idx_folder):
    arrays = make_idx_folder(str(tmp_path), num_train=5, num_test=3)
    # Decompress two of the four files under their plain names.
    for stem in ("t10k-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        gz_path = tmp_path / (stem + ".gz")
        (tmp_path / stem).write_bytes(gzip.decompress(gz_path.read_bytes()))
        gz_path.unlink()

    (x_train, y_train), (x_test, _) = load_idx(str(tmp_path))

    np.testing.assert_array_equal(y_train, arrays["train"][1])
    np.testing.assert_array_equal(x_test, arrays["test"][0])


def test_load_idx_missing_file_lists_expected_files(tmp_path, make_idx_folder):
    make_idx_folder(str(tmp_path), num_train=5, num_test=3)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")

    with pytest.raises(FileNotFoundError) as info:
        load_idx(tmp_path)

    message = str(info.value)
    assert str(tmp_path) in message
    assert "Missing IDX files" in message
    missing_section = message.split("The folder must contain")[0]
    assert "t10k-labels-idx1-ubyte" in missing_section
    assert "train-images-idx3-ubyte" not in missing_section
    for stem in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        assert stem in message


def test_load_idx_missing_folder_raises_file_not_found(tmp_path):
    missing = tmp_path / "does-not-exist"

    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        load_idx(missing)

    assert str(missing) in str(info.value)
    assert "train-images-idx3-ubyte" in str(info.value)


def test_load_idx_rejects_mismatched_counts(
    tmp_path, make_idx_folder, write_idx
):
    make_idx_folder(str(tmp_path), num_train=5, num_test=3)
    write_idx(
        str(tmp_path / "train-labels-idx1-ubyte.gz"),
        np.zeros((4,), np.uint8),
        compress=True,
    )

    with pytest.raises(ValueError, match="different numbers of examples"):
        load_idx(tmp_path)


def test_load_idx_rejects_images_of_another_shape(
    tmp_path, make_idx_folder, write_idx
):
    make_idx_folder(str(tmp_path), num_train=5, num_test=3)
    write_idx(
        str(tmp_path / "t10k-images-idx3-ubyte.gz"),
        np.zeros((3, 32, 32), np.uint8),
        compress=True,
    )

    with pytest.raises(ValueError, match=r"images\.shape=\(3, 32, 32\)"):
        load_idx(tmp_path)


def test_load_idx_reads_real_mnist(real_mnist_dir):
    (x_train, y_train), (x_test, y_test) = load_idx(real_mnist_dir)

    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10))
    assert set(np.unique(y_test)) == set(range(10))
    assert x_train.max() == 255 and x_train.min() == 0
    # Published label of the first training image.
    assert y_train[0] == 5


def test_load_idx_reads_real_fashion_mnist(real_fashion_mnist_dir):
    (x_train, y_train), (x_test, y_test) = load_idx(real_fashion_mnist_dir)

    assert x_train.shape == (60000, 28, 28)
    assert x_test.shape == (10000, 28, 28)
    # Fashion-MNIST is balanced: 6000 / 1000 examples of each class.
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)


# default_*_dir


def test_default_dirs_resolve_against_the_working_directory(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("KERAS_SVD_MNIST_DIR", raising=False)
    monkeypatch.delenv("KERAS_SVD_FASHION_MNIST_DIR", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)

    assert default_mnist_dir() == str(tmp_path / "shared" / "data" / "mnist")
    assert default_fashion_mnist_dir() == str(
        tmp_path / "shared" / "data" / "fashion-mnist"
    )


def test_default_dirs_follow_their_environment_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SVD_MNIST_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("KERAS_SVD_FASHION_MNIST_DIR", str(tmp_path / "f"))

    assert default_mnist_dir() == str(tmp_path / "m")
    assert default_fashion_mnist_dir() == str(tmp_path / "f")


def test_missing_idx_files_counts_plain_and_gzip_files(tmp_path):
    from keras_svd.datasets.idx import missing_idx_files

    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"")
    assert missing_idx_files(tmp_path) == [
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    ]
    assert len(missing_idx_files(tmp_path / "absent")) == 4
