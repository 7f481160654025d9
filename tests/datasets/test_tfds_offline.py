"""Tests for keras_svd.datasets.tfds_offline: the stock TFDS layout, offline."""

import os
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_svd.datasets import prepare_offline

pytestmark = pytest.mark.tensorflow_only("TFDS builders and tfds.load")


def _examples(data_dir, name, split):
    """The (image bytes, label) pairs read back by the stock `tfds.load`."""
    ds = tfds.load(name, data_dir=str(data_dir), split=split, try_gcs=False)
    return [
        (example["image"].numpy(), int(example["label"])) for example in ds
    ]


def _as_sorted_pairs(images, labels):
    return sorted(
        (image.tobytes(), int(label)) for image, label in zip(images, labels)
    )


def test_stock_tfds_load_reads_the_offline_preparation(tmp_path, tiny_mnist):
    source, arrays = tiny_mnist
    data_dir = tmp_path / "tfds"

    version_dir = prepare_offline("mnist", source, data_dir)

    assert version_dir == str(data_dir / "mnist" / "3.0.1")
    builder = tfds.builder("mnist", data_dir=str(data_dir))
    # The stock builder, not ours, reads the files.
    assert type(builder) is tfds.image_classification.MNIST
    assert builder.is_prepared()
    assert builder.info.splits["train"].num_examples == 20
    assert builder.info.splits["test"].num_examples == 10
    for split in ("train", "test"):
        examples = _examples(data_dir, "mnist", split)
        images = np.stack([image for image, _ in examples])
        assert images.shape == (len(arrays[split][0]), 28, 28, 1)
        assert images.dtype == np.uint8
        # TFDS shuffles the records when writing, as for the stock download:
        # compare as multisets of (pixels, label).
        assert _as_sorted_pairs(
            images[..., 0], [label for _, label in examples]
        ) == _as_sorted_pairs(*arrays[split])


def test_prepare_offline_leaves_the_tfds_registry_alone(tmp_path, tiny_mnist):
    prepare_offline("mnist", tiny_mnist[0], tmp_path / "tfds")

    assert tfds.builder_cls("mnist") is tfds.image_classification.MNIST
    registered = set(tfds.list_builders(with_community_datasets=False))
    assert not {name for name in registered if "local_idx" in name}


def test_prepare_offline_is_idempotent(tmp_path, tiny_mnist):
    data_dir = tmp_path / "tfds"
    first = prepare_offline("mnist", tiny_mnist[0], data_dir)
    stamps = {
        name: os.stat(os.path.join(first, name)).st_mtime_ns
        for name in os.listdir(first)
    }

    start = time.perf_counter()
    second = prepare_offline("mnist", tiny_mnist[0], data_dir)
    elapsed = time.perf_counter() - start

    assert second == first
    assert elapsed < 2.0
    assert {
        name: os.stat(os.path.join(first, name)).st_mtime_ns
        for name in os.listdir(first)
    } == stamps


def test_prepare_offline_refuses_a_copy_with_other_counts_unless_overwrite(
    tmp_path, make_idx_folder
):
    data_dir = tmp_path / "tfds"
    small = str(tmp_path / "small")
    larger = str(tmp_path / "larger")
    make_idx_folder(small, num_train=6, num_test=4, seed=1)
    make_idx_folder(larger, num_train=9, num_test=5, seed=2)
    prepare_offline("mnist", small, data_dir)

    with pytest.raises(FileExistsError, match="overwrite=True"):
        prepare_offline("mnist", larger, data_dir)

    prepare_offline("mnist", larger, data_dir, overwrite=True)
    splits = tfds.builder("mnist", data_dir=str(data_dir)).info.splits
    assert splits["train"].num_examples == 9
    assert splits["test"].num_examples == 5


def test_prepare_offline_fashion_mnist_uses_the_stock_name_and_labels(
    tmp_path, make_idx_folder
):
    source = str(tmp_path / "fashion-mnist")
    make_idx_folder(source, num_train=4, num_test=2, compress=False)

    version_dir = prepare_offline("fashion-mnist", source, tmp_path / "tfds")

    assert version_dir == str(tmp_path / "tfds" / "fashion_mnist" / "3.0.1")
    builder = tfds.builder("fashion_mnist", data_dir=str(tmp_path / "tfds"))
    assert type(builder) is tfds.image_classification.FashionMNIST
    assert builder.info.features["label"].names[0] == "T-shirt/top"
    assert len(_examples(tmp_path / "tfds", "fashion_mnist", "test")) == 2


@pytest.mark.parametrize("name", ["cifar10", "MNIST-X", "", None, 3])
def test_prepare_offline_rejects_unsupported_names(tmp_path, tiny_mnist, name):
    with pytest.raises(ValueError, match=r"'mnist', 'fashion_mnist'.*name="):
        prepare_offline(name, tiny_mnist[0], tmp_path / "tfds")


def test_prepare_offline_rejects_a_non_bool_overwrite(tmp_path, tiny_mnist):
    with pytest.raises(ValueError, match="Received: overwrite='yes'"):
        prepare_offline("mnist", tiny_mnist[0], tmp_path, overwrite="yes")


def test_prepare_offline_missing_source_lists_the_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        prepare_offline("mnist", tmp_path / "empty", tmp_path / "tfds")
    assert not (tmp_path / "tfds" / "mnist").exists()
