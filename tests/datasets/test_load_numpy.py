"""Tests for keras_svd.datasets.loading's `load_numpy`: NumPy arrays from
local IDX files, on every backend."""

import numpy as np
import pytest

from keras_svd.datasets import SourceDirNotFoundError
from keras_svd.datasets import load_numpy

_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def test_load_numpy_gives_scaled_float_arrays(tiny_mnist):
    source, arrays = tiny_mnist

    (x_train, y_train), (x_test, y_test) = load_numpy("mnist", source)

    assert x_train.shape == (20, 28, 28, 1) and x_train.dtype == np.float32
    assert x_test.shape == (10, 28, 28, 1)
    assert y_train.dtype == np.int64 and y_train.shape == (20,)
    np.testing.assert_allclose(x_train[..., 0] * 255.0, arrays["train"][0])
    np.testing.assert_array_equal(y_test, arrays["test"][1])
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0


def test_load_numpy_defaults_to_the_default_dir(
    tmp_path, make_idx_folder, monkeypatch
):
    make_idx_folder(str(tmp_path / "f"), num_train=3, num_test=2)
    monkeypatch.setenv("KERAS_SVD_FASHION_MNIST_DIR", str(tmp_path / "f"))

    (x_train, _), _ = load_numpy("fashion-mnist")

    assert x_train.shape == (3, 28, 28, 1)


def test_load_numpy_missing_files_name_the_download_url(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_numpy("fashion_mnist", source_dir=tmp_path / "nothing")

    assert _FASHION_URL in str(info.value)
    assert "t10k-images-idx3-ubyte" in str(info.value)
    assert str(info.value).endswith(
        f"Received: source_dir={tmp_path / 'nothing'!r}"
    )


def test_load_numpy_names_source_dir_when_files_are_missing(
    tmp_path, make_idx_folder
):
    make_idx_folder(str(tmp_path), num_train=3, num_test=2)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()

    with pytest.raises(SourceDirNotFoundError) as info:
        load_numpy("mnist", source_dir=tmp_path)

    assert isinstance(info.value, FileNotFoundError)
    assert "lacks t10k-labels-idx1-ubyte.gz" in str(info.value)
    assert "Received: source_dir=" in str(info.value)


def test_load_numpy_rejects_a_source_dir_that_is_not_a_path():
    with pytest.raises(TypeError, match="Received: source_dir=3"):
        load_numpy("mnist", source_dir=3)


def test_load_numpy_rejects_cifar10():
    with pytest.raises(ValueError, match="Received: name='cifar10'"):
        load_numpy("cifar10")


def test_load_numpy_download_reads_tfds_when_there_is_no_local_copy(
    tmp_path, monkeypatch
):
    from keras_svd.datasets import loading

    monkeypatch.setenv("KERAS_SVD_MNIST_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("KERAS_SVD_LOCAL_DATA", raising=False)
    calls = []

    def fake_load(name, batch_size, shuffle_buffer):
        calls.append(name)
        x = np.full((4, 28, 28, 1), 0.5, np.float32)
        y = np.arange(4)

        class Data:
            train = [(x, y), (x[:1], y[:1])]
            test = [(x[:2], y[:2])]

        return Data

    monkeypatch.setattr(loading, "load", fake_load)
    with pytest.raises(FileNotFoundError):
        load_numpy("mnist")
    assert calls == []

    (x_train, y_train), (x_test, y_test) = load_numpy("mnist", download=True)

    assert calls == ["mnist"]
    assert x_train.shape == (5, 28, 28, 1) and x_train.dtype == np.float32
    assert y_train.tolist() == [0, 1, 2, 3, 0] and y_train.dtype == np.int64
    assert x_test.shape == (2, 28, 28, 1)


def test_load_numpy_download_prefers_the_local_copy(
    tmp_path, make_idx_folder, monkeypatch
):
    from keras_svd.datasets import loading

    make_idx_folder(str(tmp_path / "m"), num_train=3, num_test=2)
    monkeypatch.setenv("KERAS_SVD_MNIST_DIR", str(tmp_path / "m"))
    monkeypatch.setattr(loading, "load", None)  # would fail if called

    (x_train, _), _ = load_numpy("mnist", download=True)

    assert x_train.shape == (3, 28, 28, 1)


def test_load_numpy_rejects_a_download_that_is_not_a_bool():
    with pytest.raises(ValueError, match="Received: download='yes'"):
        load_numpy("mnist", download="yes")
