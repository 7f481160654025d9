"""Reading the IDX files in which MNIST and Fashion-MNIST are published.

The IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/) is a
big-endian binary layout: two zero bytes, one byte with the type code of the
elements, one byte with the number of dimensions, one 4-byte unsigned size per
dimension, then the elements in C order. The files are usually distributed
gzip-compressed.
"""

import gzip
import os
import zlib

import numpy as np

from keras_svd.validation import check_path

# IDX type code -> big-endian numpy dtype of the stored elements.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"

# Split -> (images file, labels file), without the optional ".gz" suffix.
_STANDARD_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_MNIST_IMAGE_SHAPE = (28, 28)

# The names under which the files are published (gzip-compressed).
STANDARD_FILE_NAMES = tuple(
    f"{stem}.gz" for pair in _STANDARD_FILES.values() for stem in pair
)


def _read_bytes(path):
    """Returns the (decompressed) content of `path`."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(
            f"The gzip-compressed IDX file {path} is corrupt or truncated: "
            f"{e}. Received: path={path}"
        ) from e


def read_idx(path):
    """Reads one IDX file into a numpy array.

    The file may be gzip-compressed or not: compression is detected from the
    gzip magic bytes, not from the file name. All IDX element types are
    supported: unsigned byte (0x08), signed byte (0x09), int16 (0x0B), int32
    (0x0C), float32 (0x0D) and float64 (0x0E).

    Args:
        path: path (str or `os.PathLike`) of the IDX file.

    Returns:
        A numpy array in native byte order whose shape is the one stored in
        the header and whose dtype is the one of the type code (`uint8`,
        `int8`, `int16`, `int32`, `float32` or `float64`).

    Raises:
        TypeError: if `path` is not a `str` or `os.PathLike`.
        FileNotFoundError: if `path` does not exist.
        ValueError: if `path` is a folder, or the file is not an IDX file
            (bad magic number, unknown type code), or is truncated or has
            trailing bytes.

    Example:

    >>> images = read_idx("mnist/train-images-idx3-ubyte.gz")
    >>> images.shape, images.dtype
    ((60000, 28, 28), dtype('uint8'))
    """
    path = check_path(path, "path")
    if os.path.isdir(path):
        raise ValueError(
            f"path is a folder, not an IDX file (load_idx reads a folder). "
            f"Received: path={path!r}"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The IDX file {os.path.abspath(path)} does not exist. "
            f"Received: path={path!r}"
        )
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(
            f"The file {path} is too short to be an IDX file: it has "
            f"{len(data)} bytes and the IDX header alone needs at least 4. "
            f"Received: path={path}"
        )
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        codes = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise ValueError(
            f"The file {path} is not an IDX file: its magic number "
            f"0x{data[:4].hex().upper()} should start with two zero bytes "
            f"followed by one of the type codes {codes}. "
            f"Received: path={path}"
        )
    dtype = _IDX_DTYPES[data[2]]
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"The IDX file {path} is truncated: its header announces {ndim} "
            f"dimensions ({header_size} header bytes) but the file has only "
            f"{len(data)} bytes. Received: path={path}"
        )
    sizes = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    shape = tuple(int(size) for size in sizes)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than expected"
        raise ValueError(
            f"The IDX file {path} is {problem}: a {dtype.name} array of shape "
            f"{shape} needs {expected} data bytes but the file has {actual}. "
            f"Received: path={path}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    # Copy into native byte order (and into a writable array).
    return array.astype(dtype.newbyteorder("="))


def _find_file(folder, stem):
    """Returns the path of `stem.gz` or `stem` in `folder`, or None."""
    for name in (stem + ".gz", stem):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def find_idx_files(folder, argument="folder"):
    """Finds the four standard IDX files of an MNIST-style folder.

    Args:
        folder: path (str or `os.PathLike`) of the folder.
        argument: the name of the caller's argument that gave `folder`,
            which the errors name (`"source_dir"` for `prepare_offline`).

    Returns:
        A dict mapping `(split, kind)`, with split in `("train", "test")` and
        kind in `("images", "labels")`, to the path of the file (the `.gz`
        name is preferred when both exist).

    Raises:
        TypeError: if `folder` is not a `str` or `os.PathLike`.
        FileNotFoundError: if the folder or one of the files does not exist;
            the message lists the expected files and where they were looked
            for.

    Example:

    >>> find_idx_files(default_mnist_dir())["train", "images"]
    '.../mnist/train-images-idx3-ubyte.gz'
    """
    received = f"\nReceived: {argument}={folder!r}"
    folder = check_path(folder, argument)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"The IDX data folder {os.path.abspath(folder)} does not exist. "
            f"It must contain these four files, gzip-compressed or not:\n"
            + _expected_files_listing()
            + received
        )
    paths = _idx_paths(folder)
    missing = [stem for stem, path in paths.values() if path is None]
    if missing:
        missing_listing = "\n".join(f"  {stem}[.gz]" for stem in missing)
        raise FileNotFoundError(
            f"Missing IDX files in {os.path.abspath(folder)}:\n"
            f"{missing_listing}\n"
            f"The folder must contain these four files, gzip-compressed or "
            f"not:\n" + _expected_files_listing() + received
        )
    return {key: path for key, (_, path) in paths.items()}


def _idx_paths(folder):
    """`{(split, kind): (stem, path or None)}` for the four files."""
    return {
        (split, kind): (stem, _find_file(folder, stem))
        for split, stems in _STANDARD_FILES.items()
        for kind, stem in zip(("images", "labels"), stems)
    }


def missing_idx_files(folder):
    """The standard names (`.gz`) of the IDX files `folder` lacks.

    A file counts as present gzip-compressed or not, as `find_idx_files`
    counts it; a folder that does not exist lacks all four.
    """
    return [
        stem + ".gz"
        for stem, path in _idx_paths(os.fspath(folder)).values()
        if path is None
    ]


def _expected_files_listing():
    return "\n".join(
        f"  {stem}[.gz]" for pair in _STANDARD_FILES.values() for stem in pair
    )


def load_idx(folder):
    """Loads an MNIST-style dataset from the four standard IDX files.

    The folder must hold `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each either plain
    or with a `.gz` suffix (as published for MNIST and Fashion-MNIST).

    Args:
        folder: path (str or `os.PathLike`) of the folder.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 numpy arrays, the images
        shaped `(n, 28, 28)` and the labels shaped `(n,)`.

    Raises:
        TypeError: if `folder` is not a `str` or `os.PathLike`.
        FileNotFoundError: if the folder or one of the files does not exist;
            the message lists the expected files and where they were looked
            for.
        ValueError: if a file is not a valid IDX file, has the wrong element
            type or shape, or if images and labels counts differ.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_idx(default_mnist_dir())
    >>> x_train.shape, y_test.shape
    ((60000, 28, 28), (10000,))
    """
    paths = find_idx_files(folder)
    result = []
    for split in _STANDARD_FILES:
        images_path = paths[split, "images"]
        labels_path = paths[split, "labels"]
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        _check_split(images_path, images, labels_path, labels)
        result.append((images, labels))
    return tuple(result)


def _check_split(images_path, images, labels_path, labels):
    if images.dtype != np.uint8 or images.shape[1:] != _MNIST_IMAGE_SHAPE:
        raise ValueError(
            f"Expected uint8 images of shape (n, 28, 28) in {images_path}. "
            f"Received: images.dtype={images.dtype}, "
            f"images.shape={images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"Expected uint8 labels of shape (n,) in {labels_path}. "
            f"Received: labels.dtype={labels.dtype}, "
            f"labels.shape={labels.shape}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} and {labels_path} hold different numbers of "
            f"examples. Received: len(images)={len(images)}, "
            f"len(labels)={len(labels)}"
        )


def _default_dir(env_var, relative):
    value = os.environ.get(env_var)
    if value:
        return os.path.abspath(os.path.expanduser(value))
    return os.path.abspath(relative)


def default_mnist_dir():
    """Returns the folder where the local MNIST IDX files are expected.

    This is the value of the environment variable `KERAS_SVD_MNIST_DIR` when
    it is set, otherwise `../shared/data/mnist` resolved against the current
    working directory (the layout used by this project's tests and
    benchmarks). The folder is not checked for existence.

    Returns:
        An absolute path (str).

    Example:

    >>> (x_train, y_train), _ = load_idx(default_mnist_dir())
    """
    return _default_dir(
        "KERAS_SVD_MNIST_DIR", os.path.join("..", "shared", "data", "mnist")
    )


def default_fashion_mnist_dir():
    """Returns the folder where the local Fashion-MNIST IDX files are expected.

    This is the value of the environment variable
    `KERAS_SVD_FASHION_MNIST_DIR` when it is set, otherwise
    `../shared/data/fashion-mnist` resolved against the current working
    directory. The folder is not checked for existence.

    Returns:
        An absolute path (str).

    Example:

    >>> (x_train, y_train), _ = load_idx(default_fashion_mnist_dir())
    """
    return _default_dir(
        "KERAS_SVD_FASHION_MNIST_DIR",
        os.path.join("..", "shared", "data", "fashion-mnist"),
    )


__all__ = [
    "default_fashion_mnist_dir",
    "default_mnist_dir",
    "load_idx",
    "read_idx",
]
