"""Shared fixtures: deterministic seeds and the location of real MNIST."""

import os
import pathlib

import keras
import pytest

MNIST_ENV = "KERAS_SVD_MNIST_DIR"
FASHION_MNIST_ENV = "KERAS_SVD_FASHION_MNIST_DIR"


@pytest.fixture(autouse=True)
def seed_everything():
    keras.utils.set_random_seed(1337)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def _data_dir(env, default):
    path = pathlib.Path(os.environ.get(env, default)).expanduser()
    if not (path / "train-labels-idx1-ubyte.gz").exists() and not (
        path / "train-labels-idx1-ubyte"
    ).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"Real data is missing in CI: {path} (set {env}). "
                "CI must not skip the tests on real data."
            )
        pytest.skip(f"real data not found at {path} (set {env})")
    return path


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder of the real MNIST IDX files ($KERAS_SVD_MNIST_DIR)."""
    return _data_dir(MNIST_ENV, "../shared/data/mnist")


@pytest.fixture(scope="session")
def fashion_mnist_dir():
    """The folder of real Fashion-MNIST ($KERAS_SVD_FASHION_MNIST_DIR)."""
    return _data_dir(FASHION_MNIST_ENV, "../shared/data/fashion-mnist")
