"""Datasets for keras_svd: TFDS pipelines with an offline path from IDX files.

Public API:

- `load`: batched `tf.data` train/test pipelines plus the number of training
  examples (`LoadedDataset`), from TFDS, online or prepared from local files.
  Without data and without a network it raises `DatasetUnavailableError`
  within seconds, saying what to download and where to put it; a
  `source_dir` without the files raises `SourceDirNotFoundError`, a
  `FileNotFoundError`, as `load_numpy` does.
- `load_numpy`: MNIST / Fashion-MNIST as float32 numpy arrays from local files.
- `prepare_offline`: writes the stock TFDS layout from local IDX files.
- `read_idx`, `load_idx`: the IDX file format.
- `default_mnist_dir`, `default_fashion_mnist_dir`: where the local copies
  are expected.
"""

from keras_svd.datasets.idx import default_fashion_mnist_dir
from keras_svd.datasets.idx import default_mnist_dir
from keras_svd.datasets.idx import load_idx
from keras_svd.datasets.idx import read_idx
from keras_svd.datasets.loading import DatasetUnavailableError
from keras_svd.datasets.loading import LoadedDataset
from keras_svd.datasets.loading import SourceDirNotFoundError
from keras_svd.datasets.loading import load
from keras_svd.datasets.loading import load_numpy
from keras_svd.datasets.tfds_offline import prepare_offline

__all__ = [
    "DatasetUnavailableError",
    "LoadedDataset",
    "SourceDirNotFoundError",
    "default_fashion_mnist_dir",
    "default_mnist_dir",
    "load",
    "load_idx",
    "load_numpy",
    "prepare_offline",
    "read_idx",
]
