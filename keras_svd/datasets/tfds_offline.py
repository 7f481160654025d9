"""Preparing the TFDS on-disk layout of MNIST / Fashion-MNIST from local files.

`tfds.load("mnist")` downloads the four IDX archives and converts them into
TFRecord shards under `data_dir/mnist/<version>/`. On a machine without
network access the download fails, even when the archives are at hand.
`prepare_offline` runs the stock TFDS builder with its download step replaced
by a read of a local folder, so that the stock `tfds.load("mnist",
data_dir=data_dir)` works afterwards with no network.
"""

import functools
import os

from keras_svd.datasets.idx import find_idx_files
from keras_svd.datasets.idx import load_idx
from keras_svd.datasets.idx import read_idx
from keras_svd.validation import check_bool
from keras_svd.validation import check_path

SUPPORTED_NAMES = ("mnist", "fashion_mnist")


def _tfds():
    # Imported lazily so that importing keras_svd stays light.
    import tensorflow_datasets as tfds

    return tfds


@functools.lru_cache(maxsize=None)
def _local_builder_class(name):
    """Returns a subclass of the stock TFDS builder that reads local files.

    The subclass keeps the stock dataset name and version (so that it writes
    `data_dir/<name>/<version>/`, where the stock builder looks) and is kept
    out of the TFDS registry with `skip_registration=True`, so that it
    neither clashes with nor replaces the stock builder.
    """
    tfds = _tfds()
    stock_builders = {
        "mnist": tfds.image_classification.MNIST,
        "fashion_mnist": tfds.image_classification.FashionMNIST,
    }
    base = stock_builders[name]
    stock_name = base.name

    class LocalIdxBuilder(base, skip_registration=True):
        name = stock_name

        def __init__(self, *, source_dir, **kwargs):
            self._source_dir = source_dir
            self._arrays = None
            super().__init__(**kwargs)

        def _split_generators(self, dl_manager):
            del dl_manager  # Nothing to download.
            (x_train, y_train), (x_test, y_test) = load_idx(self._source_dir)
            self._arrays = {
                "train": (x_train, y_train),
                "test": (x_test, y_test),
            }
            return [
                tfds.core.SplitGenerator(
                    name=tfds.Split.TRAIN, gen_kwargs={"split": "train"}
                ),
                tfds.core.SplitGenerator(
                    name=tfds.Split.TEST, gen_kwargs={"split": "test"}
                ),
            ]

        def _generate_examples(self, split):
            images, labels = self._arrays[split]
            for index, (image, label) in enumerate(zip(images, labels)):
                yield index, {"image": image[..., None], "label": int(label)}

    LocalIdxBuilder.__name__ = f"LocalIdx{base.__name__}"
    LocalIdxBuilder.__qualname__ = LocalIdxBuilder.__name__
    return LocalIdxBuilder


def _default_data_dir():
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), "tensorflow_datasets"
    )


def _source_counts(paths):
    """Returns {split: number of examples}, read from the label files."""
    return {
        split: len(read_idx(paths[split, "labels"]))
        for split in ("train", "test")
    }


def _canonical_name(name):
    """Returns the TFDS name for `name`, or None if it is not supported."""
    if not isinstance(name, str):
        return None
    name = name.strip().lower().replace("-", "_")
    return name if name in SUPPORTED_NAMES else None


def prepare_offline(name, source_dir, data_dir=None, overwrite=False):
    """Writes the TFDS layout of MNIST or Fashion-MNIST from local IDX files.

    Runs the stock TFDS builder (`tfds.image_classification.MNIST` or
    `FashionMNIST`, same name and version) with its download step replaced by
    a read of `source_dir` (see `load_idx`). Afterwards the stock
    `tfds.load(name, data_dir=data_dir)` works without network access.
    Preparing the full MNIST takes about 25 seconds; when the dataset is
    already prepared under `data_dir` with as many examples as `source_dir`
    holds, the call returns at once.

    Args:
        name: `"mnist"` or `"fashion_mnist"` (`"fashion-mnist"` is accepted).
        source_dir: folder with the four IDX files (`train-images-idx3-ubyte`,
            `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
            `t10k-labels-idx1-ubyte`, each optionally `.gz`).
        data_dir: TFDS data folder to write to. Defaults to the
            `TFDS_DATA_DIR` environment variable, else
            `~/tensorflow_datasets` (the same default as `tfds.load`).
        overwrite: if True, an existing prepared copy whose example counts
            differ from `source_dir` is deleted and rebuilt. If False (the
            default) such a copy raises `FileExistsError`.

    Returns:
        The folder of the prepared dataset version (str), for example
        `data_dir/mnist/3.0.1`.

    Raises:
        ValueError: if `name` is not supported.
        TypeError: if `source_dir` or `data_dir` is not a path.
        FileNotFoundError: if `source_dir` or one of its files is missing.
        FileExistsError: if a prepared copy with other example counts exists
            and `overwrite` is False.

    Example:

    >>> prepare_offline("mnist", "../shared/data/mnist", "/tmp/tfds")
    '/tmp/tfds/mnist/3.0.1'
    >>> ds = tfds.load("mnist", data_dir="/tmp/tfds", split="train")
    """
    canonical = _canonical_name(name)
    if canonical is None:
        raise ValueError(
            f"`name` must be one of {list(SUPPORTED_NAMES)} (TFDS names; "
            f"'fashion-mnist' is also accepted). Received: name={name!r}"
        )
    overwrite = check_bool(overwrite, "overwrite")
    source_dir = check_path(source_dir, "source_dir")
    data_dir = check_path(data_dir, "data_dir", allow_none=True)
    if data_dir is None:
        data_dir = _default_data_dir()
    data_dir = os.path.abspath(os.path.expanduser(data_dir))

    # Fails early, with the list of expected files, if any is missing.
    paths = find_idx_files(source_dir, argument="source_dir")

    tfds = _tfds()
    builder = _local_builder_class(canonical)(
        source_dir=source_dir, data_dir=data_dir
    )
    mode = tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
    # (Checking the folder first keeps TFDS from logging a warning.)
    if os.path.isdir(builder.data_dir) and builder.is_prepared():
        expected = _source_counts(paths)
        prepared = {
            split: builder.info.splits[split].num_examples
            for split in builder.info.splits.keys()
        }
        if prepared == expected:
            return os.fspath(builder.data_dir)
        if not overwrite:
            raise FileExistsError(
                f"A prepared copy of {canonical!r} with other example counts "
                f"already exists in {builder.data_dir} (prepared: {prepared}; "
                f"in {source_dir}: {expected}). Pass overwrite=True to "
                f"rebuild it from {source_dir}, or use another data_dir."
            )
        mode = tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            try_download_gcs=False, download_mode=mode
        )
    )
    return os.fspath(builder.data_dir)


__all__ = ["prepare_offline"]
