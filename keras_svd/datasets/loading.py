"""Input pipelines for the image-classification datasets used by keras_svd.

`load` returns ready-to-fit `tf.data` pipelines together with the number of
training examples, the `N` that scales the KL term of the variational
objective (Molchanov et al., 2017, "Variational Dropout Sparsifies Deep
Neural Networks"). Data come from TFDS, either downloaded as usual or
prepared offline from a local copy of the IDX files (see `prepare_offline`).
"""

import collections
import dataclasses
import os
import socket
import urllib.parse
from typing import Any
from typing import Tuple

import numpy as np

from keras_svd.datasets.idx import STANDARD_FILE_NAMES
from keras_svd.datasets.idx import default_fashion_mnist_dir
from keras_svd.datasets.idx import default_mnist_dir
from keras_svd.datasets.idx import find_idx_files
from keras_svd.datasets.idx import load_idx
from keras_svd.datasets.idx import missing_idx_files
from keras_svd.datasets.tfds_offline import _default_data_dir
from keras_svd.datasets.tfds_offline import prepare_offline
from keras_svd.validation import check_bool
from keras_svd.validation import check_path
from keras_svd.validation import check_positive_int
from keras_svd.validation import is_integer

LOCAL_DATA_ENV_VAR = "KERAS_SVD_LOCAL_DATA"

# Seconds to wait for the download host before saying the network is down.
PROBE_TIMEOUT = 5.0

_Spec = collections.namedtuple(
    "_Spec",
    [
        "name",
        "input_shape",
        "num_classes",
        "url",
        "subdirs",
        "default_dir",
        "download_url",
    ],
)

_SPECS = {
    "mnist": _Spec(
        name="mnist",
        input_shape=(28, 28, 1),
        num_classes=10,
        url="https://storage.googleapis.com/cvdf-datasets/mnist/",
        subdirs=("mnist",),
        default_dir=default_mnist_dir,
        download_url="https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion_mnist": _Spec(
        name="fashion_mnist",
        input_shape=(28, 28, 1),
        num_classes=10,
        url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        subdirs=("fashion-mnist", "fashion_mnist"),
        default_dir=default_fashion_mnist_dir,
        download_url=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
        ),
    ),
    # Only through TFDS: there is no local-file path for CIFAR-10.
    "cifar10": _Spec(
        name="cifar10",
        input_shape=(32, 32, 3),
        num_classes=10,
        url=None,
        subdirs=(),
        default_dir=None,
        download_url="https://www.cs.toronto.edu/~kriz/",
    ),
}


@dataclasses.dataclass(frozen=True)
class LoadedDataset:
    """The train and test pipelines of a dataset, with what a model needs.

    Attributes:
        name: TFDS name of the dataset (`"mnist"`, `"fashion_mnist"`,
            `"cifar10"`).
        train: `tf.data.Dataset` of `(images, labels)` batches, shuffled:
            float32 images in `[0, 1]` of shape `(batch,) + input_shape` and
            int64 labels of shape `(batch,)`.
        test: the same for the test split, not shuffled.
        num_train_examples: number of training examples (after `train_size`),
            the `N` of the KL term of the variational objective.
        num_test_examples: number of test examples (after `test_size`).
        input_shape: shape of one image, e.g. `(28, 28, 1)`.
        num_classes: number of classes.
    """

    name: str
    train: Any
    test: Any
    num_train_examples: int
    num_test_examples: int
    input_shape: Tuple[int, ...]
    num_classes: int


def _get_spec(name):
    key = None
    if isinstance(name, str):
        key = name.strip().lower().replace("-", "_")
    if key not in _SPECS:
        raise ValueError(
            f"`name` must be one of {sorted(_SPECS)} ('fashion-mnist' is also "
            f"accepted). Received: name={name!r}"
        )
    return _SPECS[key]


def _check_positive_int(arg_name, value, allow_none=False):
    check_positive_int(value, arg_name, allow_none)


def _has_idx_files(folder):
    try:
        find_idx_files(folder)
    except FileNotFoundError:
        return False
    return True


def _idx_folder(spec, root):
    """The IDX folder of `spec` in `root`: `root` itself or a subfolder."""
    if _has_idx_files(root):
        return root
    for subdir in spec.subdirs:
        candidate = os.path.join(root, subdir)
        if os.path.isdir(candidate):
            return candidate
    return root


def _local_source(spec, source_dir):
    """Returns the local IDX folder to use for `spec`, or None for online."""
    source_dir = check_path(source_dir, "source_dir", allow_none=True)
    if source_dir is not None:
        if spec.url is None:
            raise ValueError(
                f"`source_dir` is only supported for the IDX datasets "
                f"'mnist' and 'fashion_mnist'; load {spec.name!r} through "
                f"TFDS (optionally with `data_dir`). "
                f"Received: source_dir={source_dir!r}"
            )
        return _idx_folder(spec, source_dir)
    root = os.environ.get(LOCAL_DATA_ENV_VAR)
    if root and spec.url is not None:
        return os.path.join(root, spec.subdirs[0])
    return None


class DatasetUnavailableError(RuntimeError):
    """The dataset is neither on disk nor downloadable; says what to do.

    Attributes:
        name: the dataset's TFDS name.
        reason: what went wrong, in one sentence.
        folder: the local folder that was looked in, or None.
    """

    def __init__(self, spec, reason, folder=None):
        self.name = spec.name
        self.reason = reason
        self.folder = folder
        self._spec = spec
        super().__init__(self.message())

    def message(self, argument=None):
        """The message, naming `argument` as the way to give a folder.

        Args:
            argument: how the user gives a folder, e.g. `"--data-dir DIR"`;
                by default `source_dir=` of `keras_svd.datasets.load()`.
        """
        if argument is None:
            argument = "`source_dir=` to keras_svd.datasets.load()"
        return (
            f"Could not load the dataset {self.name!r}: {self.reason}\n"
            + _download_instructions(self._spec, self.folder, argument)
        )


class SourceDirNotFoundError(DatasetUnavailableError, FileNotFoundError):
    """The `source_dir` given to `load` or `load_numpy` lacks the IDX files.

    A `FileNotFoundError`, as for any missing path, and a
    `DatasetUnavailableError`, whose message says which files to download,
    from where and where to put them. The message ends with
    `Received: source_dir=...`.

    Attributes:
        source_dir: the folder the user gave.
    """

    def __init__(self, spec, folder, source_dir, function):
        self.source_dir = source_dir
        self._function = function
        super().__init__(spec, _missing_files_reason(folder), folder)

    def message(self, argument=None):
        if argument is not None:
            return super().message(argument)
        return (
            super().message(
                f"`source_dir=` to keras_svd.datasets.{self._function}()"
            )
            + f"\nReceived: source_dir={self.source_dir!r}"
        )


def _check_source_dir(spec, folder, source_dir, function):
    """Raises `SourceDirNotFoundError` when a given `source_dir` lacks files.

    `folder` is the IDX folder found in `source_dir` (`_local_source`).
    Nothing to check when `source_dir` is None (the environment variable or
    the default folder).
    """
    if source_dir is None:
        return
    try:
        find_idx_files(folder, argument="source_dir")
    except FileNotFoundError as e:
        raise SourceDirNotFoundError(spec, folder, source_dir, function) from e


def _download_instructions(spec, folder, argument):
    if spec.url is None:
        return (
            f"keras_svd has no local-file path for {spec.name!r}. Prepare it "
            f"where the network is reachable (for example "
            f"`tfds build {spec.name} --data_dir=DIR`), copy DIR here and "
            f"pass `data_dir=DIR`."
        )
    files = "\n".join(f"  {file_name}" for file_name in STANDARD_FILE_NAMES)
    where = folder if folder is not None else (
        f"a folder of your choice, for example DATA/{spec.subdirs[0]}"
    )
    return (
        f"To use a local copy, download these four files from {spec.url} :\n"
        f"{files}\n"
        f"put them in {where}, then either pass that folder as {argument}, "
        f"or set the environment variable {LOCAL_DATA_ENV_VAR} to the parent "
        f"folder DATA holding the subfolders mnist/ and fashion-mnist/ (the "
        f"four files of each dataset)."
    )


def _missing_files_reason(folder):
    """One sentence on what an IDX folder lacks (the guidance lists them)."""
    if not os.path.isdir(folder):
        return f"the folder {os.path.abspath(folder)} does not exist."
    missing = missing_idx_files(folder)
    if len(missing) == len(STANDARD_FILE_NAMES):
        return f"{os.path.abspath(folder)} holds none of the four IDX files."
    return (
        f"{os.path.abspath(folder)} lacks {', '.join(missing)} (plain or "
        "gzip-compressed)."
    )


def _uses_proxy():
    return any(
        os.environ.get(name)
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                     "ALL_PROXY", "all_proxy")
    )


def _unreachable(url, timeout=PROBE_TIMEOUT):
    """Why the host of `url` cannot be reached, or None when it can.

    One TCP connection attempt, so that a machine without a network fails
    in seconds instead of through minutes of download retries. Not tried
    behind a proxy, which only the download itself can go through.
    """
    if _uses_proxy():
        return None
    parsed = urllib.parse.urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout):
            return None
    except OSError as e:
        return (
            f"the download host {parsed.hostname} cannot be reached (no "
            f"network access?): {type(e).__name__}: {e}"
        )


def _is_prepared(builder):
    data_dir = getattr(builder, "data_dir", None)
    return data_dir is not None and os.path.exists(
        os.path.join(data_dir, "dataset_info.json")
    )


def _scale(images, labels):
    import tensorflow as tf

    return tf.cast(images, tf.float32) / 255.0, labels


def _pipeline(ds, batch_size, shuffle_buffer=None, seed=None):
    import tensorflow as tf

    # Cache the decoded uint8 images: 47 MB for MNIST, 150 MB for CIFAR-10.
    ds = ds.cache()
    if shuffle_buffer is not None:
        ds = ds.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
    ds = ds.batch(batch_size)
    ds = ds.map(_scale, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _split(split, size):
    return split if size is None else f"{split}[:{int(size)}]"


def load(
    name,
    batch_size=100,
    data_dir=None,
    source_dir=None,
    shuffle_buffer=10000,
    seed=None,
    train_size=None,
    test_size=None,
):
    """Loads a dataset as batched `tf.data` pipelines for `fit`/`evaluate`.

    The data come from TFDS. With a local copy of the IDX files (MNIST and
    Fashion-MNIST only), given by `source_dir` or by the environment variable
    `KERAS_SVD_LOCAL_DATA`, the TFDS layout is first prepared offline under
    `data_dir` (see `prepare_offline`); otherwise `tfds` downloads the data
    as usual (or reuses what is already prepared under `data_dir`).

    Args:
        name: `"mnist"`, `"fashion_mnist"` (or `"fashion-mnist"`) or
            `"cifar10"`.
        batch_size: positive int, examples per batch.
        data_dir: TFDS data folder. Defaults to TFDS's default
            (`TFDS_DATA_DIR`, else `~/tensorflow_datasets`).
        source_dir: folder with the four IDX files of the dataset
            (`train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
            `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`, plain
            or gzip-compressed), or a parent folder with a `mnist/` or
            `fashion-mnist/` subfolder holding them. When None, the
            environment variable `KERAS_SVD_LOCAL_DATA` may name such a
            parent folder.
        shuffle_buffer: positive int, size of the training shuffle buffer.
        seed: None or int, seed of the training shuffle.
        train_size: None or positive int: keep only the first `train_size`
            training examples (for quick runs and tests).
        test_size: None or positive int: keep only the first `test_size` test
            examples.

    Returns:
        A `LoadedDataset` with `train`, `test`, `num_train_examples`,
        `num_test_examples`, `input_shape` and `num_classes`.

    Raises:
        ValueError: if an argument is invalid.
        TypeError: if `data_dir` or `source_dir` is not a path.
        FileNotFoundError: (a `SourceDirNotFoundError`, also a
            `DatasetUnavailableError`) if `source_dir` is missing or lacks
            an IDX file, as `load_numpy` raises; the message names
            `source_dir`, the folder and the files to download.
        DatasetUnavailableError: (a `RuntimeError`) if the data can
            neither be found locally nor downloaded; the message says which
            files to download, from where, where to put them and which
            argument or environment variable to set. Without a network it
            comes within seconds (one connection attempt to the download
            host, `PROBE_TIMEOUT`), not after TFDS's download retries.

    Example:

    >>> data = load("mnist", batch_size=128, source_dir="../shared/data")
    >>> model.fit(data.train, validation_data=data.test, epochs=10)
    >>> data.num_train_examples
    60000
    """
    spec = _get_spec(name)
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("shuffle_buffer", shuffle_buffer)
    _check_positive_int("train_size", train_size, allow_none=True)
    _check_positive_int("test_size", test_size, allow_none=True)
    if seed is not None and not is_integer(seed):
        raise ValueError(
            f"`seed` must be None or an integer. Received: seed={seed!r}"
        )

    data_dir = check_path(data_dir, "data_dir", allow_none=True)
    folder = _local_source(spec, source_dir)
    _check_source_dir(spec, folder, source_dir, "load")

    import tensorflow_datasets as tfds

    if folder is not None:
        data_dir = data_dir if data_dir is not None else _default_data_dir()
        try:
            prepare_offline(spec.name, folder, data_dir)
        except FileNotFoundError as e:
            raise DatasetUnavailableError(
                spec, _missing_files_reason(folder), folder
            ) from e
        builder = tfds.builder(spec.name, data_dir=data_dir, try_gcs=False)
    else:
        builder = tfds.builder(spec.name, data_dir=data_dir, try_gcs=False)
        if not _is_prepared(builder):
            reason = _unreachable(spec.download_url)
            if reason is not None:
                raise DatasetUnavailableError(spec, reason)
        try:
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    try_download_gcs=False
                )
            )
        except Exception as e:  # Network errors come in many types.
            reason = (
                f"TFDS could not download it (no network access?): "
                f"{type(e).__name__}: {e}"
            )
            raise DatasetUnavailableError(spec, reason) from e

    train_split = _split("train", train_size)
    test_split = _split("test", test_size)
    train, test = builder.as_dataset(
        split=[train_split, test_split], as_supervised=True
    )
    return LoadedDataset(
        name=spec.name,
        train=_pipeline(train, batch_size, shuffle_buffer, seed),
        test=_pipeline(test, batch_size),
        num_train_examples=int(builder.info.splits[train_split].num_examples),
        num_test_examples=int(builder.info.splits[test_split].num_examples),
        input_shape=spec.input_shape,
        num_classes=spec.num_classes,
    )


def load_numpy(name, source_dir=None, download=False):
    """Loads MNIST or Fashion-MNIST from local IDX files as numpy arrays.

    For small tests, benchmarks and notebooks that need arrays rather than
    pipelines. With `download=True` and no local copy (no `source_dir`, no
    files at the default place) the data come from TFDS instead, which
    downloads them (on Colab, say) or reuses its prepared copy.

    Args:
        name: `"mnist"` or `"fashion_mnist"` (or `"fashion-mnist"`).
        source_dir: folder with the four IDX files, or a parent folder with a
            `mnist/` or `fashion-mnist/` subfolder holding them. When None:
            the subfolder of `KERAS_SVD_LOCAL_DATA` if that environment
            variable is set, else `default_mnist_dir()` or
            `default_fashion_mnist_dir()`.
        download: bool; when True and `source_dir` is None and the default
            folder lacks the files, load through TFDS (`load`) instead of
            raising `FileNotFoundError`. Needs TensorFlow and
            tensorflow-datasets, and a network the first time.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float32 images in `[0, 1]` of
        shape `(n, 28, 28, 1)` and int64 labels of shape `(n,)`.

    Raises:
        ValueError: if `name` is not one of the IDX datasets.
        TypeError: if `source_dir` is not a path.
        FileNotFoundError: if the folder or one of its files is missing; the
            message lists the files and where to download them. For a given
            `source_dir` it is a `SourceDirNotFoundError`, as `load` raises,
            and names `source_dir`.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_numpy("mnist")
    >>> x_train.shape, x_train.dtype
    ((60000, 28, 28, 1), dtype('float32'))
    """
    spec = _get_spec(name)
    if spec.url is None:
        raise ValueError(
            f"`load_numpy` reads local IDX files, which exist only for "
            f"'mnist' and 'fashion_mnist'. Received: name={name!r}"
        )
    download = check_bool(download, "download")
    folder = _local_source(spec, source_dir)
    _check_source_dir(spec, folder, source_dir, "load_numpy")
    if folder is None:
        folder = spec.default_dir()
        if download and not _has_idx_files(folder):
            return _arrays_from_tfds(name)
    try:
        splits = load_idx(folder)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"{e}\nDownload them from {spec.url} ."
        ) from e
    return tuple(
        (
            (images.astype(np.float32) / 255.0)[..., None],
            labels.astype(np.int64),
        )
        for images, labels in splits
    )


def _arrays_from_tfds(name):
    """`load_numpy`'s arrays read from the TFDS pipelines of `load`."""
    data = load(name, batch_size=10_000, shuffle_buffer=1)
    splits = []
    for pipeline in (data.train, data.test):
        batches = [(np.asarray(x), np.asarray(y)) for x, y in pipeline]
        splits.append((
            np.concatenate([x for x, _ in batches]).astype(np.float32),
            np.concatenate([y for _, y in batches]).astype(np.int64),
        ))
    return tuple(splits)


__all__ = [
    "DatasetUnavailableError",
    "LoadedDataset",
    "SourceDirNotFoundError",
    "load",
    "load_numpy",
]
