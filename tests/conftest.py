"""Shared fixtures and markers.

Fixtures: deterministic seeds and the location of real MNIST.

Markers (registered in pytest.ini):

- `tensorflow_only(reason)`: a test of a TensorFlow-only feature (tf.data,
  TFDS, SavedModel export, tf.summary / TensorBoard); skipped, with the
  reason, when `KERAS_BACKEND` is not `tensorflow`.
- `slow`: a test on the real data sets, added here to every test that uses
  one of the real-data fixtures (`REAL_DATA_FIXTURES`, directly or through
  another fixture); CI runs these on TensorFlow only (`.ci/run`).
"""

import os
import pathlib

import keras
import pytest

MNIST_ENV = "KERAS_SVD_MNIST_DIR"
FASHION_MNIST_ENV = "KERAS_SVD_FASHION_MNIST_DIR"


# The fixtures that hand a test the real MNIST or Fashion-MNIST files.
REAL_DATA_FIXTURES = frozenset(
    {
        "mnist_dir",
        "fashion_mnist_dir",
        "real_mnist_dir",
        "real_fashion_mnist_dir",
    }
)


@pytest.hookimpl(tryfirst=True)  # Before `-m` deselects by marker.
def pytest_collection_modifyitems(config, items):
    for item in items:
        _mark_real_data_tests_slow(item)
        _skip_tensorflow_only_tests(item, keras.backend.backend())


def _mark_real_data_tests_slow(item):
    # `fixturenames` holds every fixture the test needs, through others too.
    if REAL_DATA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.slow)


def _skip_tensorflow_only_tests(item, backend):
    marker = item.get_closest_marker("tensorflow_only")
    if marker is None or backend == "tensorflow":
        return
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise pytest.UsageError(
            f"{item.nodeid}: tensorflow_only takes one reason string, e.g. "
            '@pytest.mark.tensorflow_only("tf.data pipelines").'
        )
    item.add_marker(
        pytest.mark.skip(
            reason=f"TensorFlow-only ({marker.args[0]}); "
            f"the backend is {backend}"
        )
    )


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
