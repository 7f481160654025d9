"""Tests for keras_svd.datasets.loading: `load` and its errors.

`load` returns tf.data pipelines built by TFDS, so these run on TensorFlow
only; `load_numpy` is tested on every backend in test_load_numpy.py.
"""

import dataclasses
import os
import time
import types

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_svd.datasets import DatasetUnavailableError
from keras_svd.datasets import LoadedDataset
from keras_svd.datasets import SourceDirNotFoundError
from keras_svd.datasets import load
from keras_svd.datasets import load_numpy
from keras_svd.datasets import loading

pytestmark = pytest.mark.tensorflow_only("tf.data pipelines from TFDS")

_FILE_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


class _FakeBuilder:
    """Stands in for a TFDS builder: in-memory splits, optional failure."""

    def __init__(self, splits=None, error=None):
        self._splits = splits or {}
        self._error = error
        self.info = types.SimpleNamespace(
            splits={
                name: types.SimpleNamespace(num_examples=len(labels))
                for name, (_, labels) in self._splits.items()
            }
        )

    def download_and_prepare(self, download_config=None):
        if self._error is not None:
            raise self._error

    def as_dataset(self, split, as_supervised):
        assert as_supervised
        return [
            tf.data.Dataset.from_tensor_slices(self._splits[name])
            for name in split
        ]


def _collect(ds):
    images, labels = [], []
    for x, y in ds:
        images.append(x.numpy())
        labels.append(y.numpy())
    return images, labels


# load: offline path from a tiny source folder.


def test_load_gives_scaled_batches_and_the_number_of_examples(
    tmp_path, tiny_mnist
):
    source, arrays = tiny_mnist

    data = load(
        "mnist", batch_size=8, source_dir=source, data_dir=tmp_path / "tfds"
    )

    assert isinstance(data, LoadedDataset)
    assert data.name == "mnist"
    assert data.num_train_examples == 20
    assert data.num_test_examples == 10
    assert data.input_shape == (28, 28, 1)
    assert data.num_classes == 10
    assert data.train.element_spec[0].shape.as_list() == [None, 28, 28, 1]
    assert data.train.element_spec[0].dtype == tf.float32
    assert data.train.element_spec[1].dtype.is_integer
    images, labels = _collect(data.train)
    assert [len(batch) for batch in labels] == [8, 8, 4]
    pixels = np.concatenate(images)
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    # Same examples as the source, scaled by 1/255 (order aside).
    np.testing.assert_allclose(
        np.sort(pixels.ravel()),
        np.sort(arrays["train"][0].ravel() / 255.0),
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        np.sort(np.concatenate(labels)), np.sort(arrays["train"][1])
    )
    test_images, _ = _collect(data.test)
    assert [len(batch) for batch in test_images] == [8, 2]


def test_load_test_split_is_stable_and_train_is_reshuffled(
    tmp_path, tiny_mnist
):
    data = load(
        "mnist",
        batch_size=20,
        source_dir=tiny_mnist[0],
        data_dir=tmp_path / "tfds",
        seed=3,
    )

    _, test_first = _collect(data.test)
    _, test_second = _collect(data.test)
    _, train_first = _collect(data.train)
    _, train_second = _collect(data.train)
    np.testing.assert_array_equal(test_first[0], test_second[0])
    np.testing.assert_array_equal(
        np.sort(train_first[0]), np.sort(train_second[0])
    )
    assert not np.array_equal(train_first[0], train_second[0])


def test_load_with_the_same_seed_gives_the_same_order(tmp_path, tiny_mnist):
    def first_epoch_labels():
        data = load(
            "mnist",
            batch_size=20,
            source_dir=tiny_mnist[0],
            data_dir=tmp_path / "tfds",
            seed=7,
        )
        return _collect(data.train)[1][0]

    np.testing.assert_array_equal(first_epoch_labels(), first_epoch_labels())


def test_load_train_and_test_size_take_the_first_examples(tmp_path, tiny_mnist):
    data = load(
        "mnist",
        batch_size=4,
        source_dir=tiny_mnist[0],
        data_dir=tmp_path / "tfds",
        train_size=6,
        test_size=3,
    )

    assert data.num_train_examples == 6
    assert data.num_test_examples == 3
    assert sum(len(y) for y in _collect(data.train)[1]) == 6
    assert sum(len(y) for y in _collect(data.test)[1]) == 3


def test_load_finds_the_dataset_subfolder_of_a_parent_source_dir(
    tmp_path, make_idx_folder
):
    parent = tmp_path / "data"
    make_idx_folder(str(parent / "fashion-mnist"), num_train=5, num_test=3)

    data = load(
        "fashion-mnist",
        batch_size=5,
        source_dir=parent,
        data_dir=tmp_path / "t",
    )

    assert data.name == "fashion_mnist"
    assert data.num_train_examples == 5
    assert (tmp_path / "t" / "fashion_mnist" / "3.0.1").is_dir()


def test_load_uses_the_local_data_environment_variable(
    tmp_path, make_idx_folder, monkeypatch
):
    parent = tmp_path / "data"
    make_idx_folder(str(parent / "mnist"), num_train=7, num_test=3)
    monkeypatch.setenv("KERAS_SVD_LOCAL_DATA", str(parent))

    data = load("mnist", data_dir=tmp_path / "tfds")

    assert data.num_train_examples == 7


def test_load_defaults_to_the_tfds_data_dir(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "default"))

    data = load("mnist", source_dir=tiny_mnist[0])

    assert data.num_train_examples == 20
    assert (tmp_path / "default" / "mnist" / "3.0.1").is_dir()


def test_loaded_dataset_is_frozen(tmp_path, tiny_mnist):
    data = load("mnist", source_dir=tiny_mnist[0], data_dir=tmp_path / "tfds")

    with pytest.raises(dataclasses.FrozenInstanceError):
        data.num_train_examples = 1


def test_load_full_real_mnist(tmp_path, real_mnist_dir):
    data = load(
        "mnist",
        batch_size=1000,
        source_dir=real_mnist_dir,
        data_dir=tmp_path / "tfds",
    )

    assert data.num_train_examples == 60000
    assert data.num_test_examples == 10000
    images, labels = _collect(data.test)
    assert sum(len(batch) for batch in labels) == 10000
    assert images[0].shape == (1000, 28, 28, 1)
    assert set(np.unique(np.concatenate(labels))) == set(range(10))
    assert 0.0 <= min(b.min() for b in images) < max(b.max() for b in images)
    assert max(b.max() for b in images) == 1.0


# load: the TFDS path, with a stand-in builder (no network in tests).


def test_load_cifar10_goes_through_tfds_with_32x32x3_images(monkeypatch):
    monkeypatch.setattr(loading, "_unreachable", lambda url: None)
    rng = np.random.default_rng(0)
    splits = {
        split: (
            rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, size=(n,), dtype=np.int64),
        )
        for split, n in (("train", 6), ("test", 4))
    }
    calls = []

    def fake_builder(name, **kwargs):
        calls.append((name, kwargs))
        return _FakeBuilder(splits)

    monkeypatch.setattr(tfds, "builder", fake_builder)

    data = load("cifar10", batch_size=4, data_dir="/somewhere")

    assert calls == [("cifar10", {"data_dir": "/somewhere", "try_gcs": False})]
    assert data.input_shape == (32, 32, 3)
    assert data.num_train_examples == 6
    images, _ = _collect(data.train)
    assert images[0].shape == (4, 32, 32, 3)
    assert images[0].dtype == np.float32
    assert 0.0 <= images[0].min() and images[0].max() <= 1.0


@pytest.mark.parametrize(
    "name, url", [("mnist", _MNIST_URL), ("fashion_mnist", _FASHION_URL)]
)
def test_load_without_network_or_files_says_what_to_download(
    monkeypatch, name, url
):
    # The host answers, but the download fails.
    monkeypatch.setattr(loading, "_unreachable", lambda url: None)
    error = ConnectionError("Failed to resolve 'storage.googleapis.com'")
    monkeypatch.setattr(
        tfds, "builder", lambda *args, **kwargs: _FakeBuilder(error=error)
    )

    with pytest.raises(RuntimeError) as info:
        load(name)

    message = str(info.value)
    assert info.value.__cause__ is error
    for file_name in _FILE_NAMES:
        assert file_name in message
    assert url in message
    assert "source_dir" in message
    assert "KERAS_SVD_LOCAL_DATA" in message
    assert "Failed to resolve" in message


def test_load_cifar10_without_network_suggests_a_data_dir(monkeypatch):
    monkeypatch.setattr(loading, "_unreachable", lambda url: None)
    error = ConnectionError("offline")
    monkeypatch.setattr(
        tfds, "builder", lambda *args, **kwargs: _FakeBuilder(error=error)
    )

    with pytest.raises(RuntimeError, match="data_dir"):
        load("cifar10")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_load_offline_fails_in_seconds_without_downloading(
    monkeypatch, tmp_path, name
):
    attempts = []

    def unreachable(address, timeout=None, *args, **kwargs):
        attempts.append((address, timeout))
        raise OSError("Network is unreachable")

    # No network: every connection fails at once; TFDS must not be asked to
    # download (its retries took minutes).
    monkeypatch.setattr(loading.socket, "create_connection", unreachable)
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                  "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.delenv("KERAS_SVD_LOCAL_DATA", raising=False)

    class NoDownload(_FakeBuilder):
        def download_and_prepare(self, download_config=None):
            raise AssertionError("TFDS was asked to download offline")

    monkeypatch.setattr(tfds, "builder", lambda *a, **k: NoDownload())
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load(name, data_dir=tmp_path / "tfds")
    assert time.perf_counter() - start < 5
    assert len(attempts) == 1
    assert attempts[0][1] == loading.PROBE_TIMEOUT
    message = str(info.value)
    assert "cannot be reached" in message
    assert "Network is unreachable" in message
    if name != "cifar10":
        assert "source_dir" in message
        for file_name in _FILE_NAMES:
            assert message.count(file_name) == 1


def test_load_behind_a_proxy_leaves_the_network_to_tfds(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setattr(
        loading.socket,
        "create_connection",
        lambda *a, **k: pytest.fail("probed the network behind a proxy"),
    )
    error = ConnectionError("proxy refused")
    monkeypatch.setattr(
        tfds, "builder", lambda *args, **kwargs: _FakeBuilder(error=error)
    )
    with pytest.raises(DatasetUnavailableError, match="proxy refused"):
        load("mnist")


def test_load_with_an_empty_source_dir_names_the_files_and_the_folder(
    tmp_path,
):
    empty = tmp_path / "empty"
    empty.mkdir()

    # A FileNotFoundError, as load_numpy raises, and a
    # DatasetUnavailableError, which the command line rewords.
    with pytest.raises(FileNotFoundError) as info:
        load("mnist", source_dir=empty, data_dir=tmp_path / "tfds")

    assert isinstance(info.value, DatasetUnavailableError)
    message = str(info.value)
    for file_name in _FILE_NAMES:
        assert message.count(file_name) == 1
    assert "holds none of the four IDX files" in message
    assert _MNIST_URL in message
    assert f"put them in {empty}" in message
    assert message.endswith(f"Received: source_dir={empty!r}")
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_load_and_load_numpy_raise_alike_for_a_missing_source_dir(tmp_path):
    missing = tmp_path / "nowhere"

    with pytest.raises(FileNotFoundError) as from_load:
        load("mnist", source_dir=missing, data_dir=tmp_path / "tfds")
    with pytest.raises(FileNotFoundError) as from_load_numpy:
        load_numpy("mnist", source_dir=missing)

    for info in (from_load, from_load_numpy):
        assert type(info.value) is SourceDirNotFoundError
        message = str(info.value)
        assert f"{missing} does not exist" in message
        assert message.endswith(f"Received: source_dir={missing!r}")
    assert "keras_svd.datasets.load()" in str(from_load.value)
    assert "keras_svd.datasets.load_numpy()" in str(from_load_numpy.value)
    assert not (tmp_path / "tfds").exists()


def test_load_with_local_data_variable_but_no_subfolder_fails_offline(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_SVD_LOCAL_DATA", str(tmp_path))

    with pytest.raises(RuntimeError) as info:
        load("fashion_mnist", data_dir=tmp_path / "tfds")

    assert os.path.join(str(tmp_path), "fashion-mnist") in str(info.value)
    assert _FASHION_URL in str(info.value)


# load: argument validation.


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "svhn"}, "Received: name='svhn'"),
        ({"name": None}, "Received: name=None"),
        ({"batch_size": 0}, "Received: batch_size=0"),
        ({"batch_size": -5}, "Received: batch_size=-5"),
        ({"batch_size": 1.5}, "Received: batch_size=1.5"),
        ({"batch_size": True}, "Received: batch_size=True"),
        ({"batch_size": "32"}, "Received: batch_size='32'"),
        ({"shuffle_buffer": 0}, "Received: shuffle_buffer=0"),
        ({"train_size": 0}, "Received: train_size=0"),
        ({"test_size": -1}, "Received: test_size=-1"),
        ({"test_size": 2.0}, "Received: test_size=2.0"),
        ({"seed": "1"}, "Received: seed='1'"),
        ({"name": "cifar10", "source_dir": "/x"}, "Received: source_dir='/x'"),
    ],
)
def test_load_rejects_invalid_arguments(kwargs, match):
    kwargs = {"name": "mnist", **kwargs}

    with pytest.raises(ValueError, match=match):
        load(**kwargs)


@pytest.mark.parametrize("argument", ["source_dir", "data_dir"])
def test_load_rejects_a_path_of_the_wrong_type(argument):
    with pytest.raises(TypeError, match=f"Received: {argument}=3"):
        load("mnist", **{argument: 3})
