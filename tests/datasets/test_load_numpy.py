"""Tests for keras_svd.datasets.loading's `load_numpy`: NumPy arrays from
local IDX files, on every backend."""

import numpy as np
import pytest

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


def test_load_numpy_rejects_cifar10():
    with pytest.raises(ValueError, match="Received: name='cifar10'"):
        load_numpy("cifar10")
