import os

import keras
import numpy as np
import pytest

import keras_svd
from keras_svd import models


def _pruned_lenet(seed=0):
    """LeNet-300-100 with most weights pruned (log sigma^2 set high).

    The first 200 pixels (the top rows of the image) are never read.
    """
    model = models.lenet_300_100(variational=True)
    rng = np.random.default_rng(seed)
    for layer in keras_svd.variational_layers(model):
        shape = tuple(layer.log_sigma2.shape)
        # log alpha = log sigma^2 - log theta^2: mostly >= 3.
        log_sigma2 = rng.normal(1.0, 3.0, shape).astype("float32")
        if layer.name == "dense_300":
            log_sigma2[:200] = 8.0
        layer.log_sigma2.assign(log_sigma2)
        bias = rng.normal(0.0, 0.1, tuple(layer.bias.shape)).astype("float32")
        layer.bias.assign(bias)
    return model


def _predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_sparse_file_round_trips_and_is_smaller_than_keras(tmp_path):
    model = _pruned_lenet()
    stripped = keras_svd.strip_variational(model)
    sparsity = keras_svd.measure_sparsity(model)["sparsity"]
    assert sparsity > 0.9
    path = tmp_path / "lenet.npz"
    size = keras_svd.save_sparse(model, path)
    assert size == os.path.getsize(path)
    keras_path = tmp_path / "lenet.keras"
    stripped.save(keras_path)
    keras_size = os.path.getsize(keras_path)
    print(
        f"\nsparsity {sparsity:.3f}: sparse file {size} bytes, stripped "
        f".keras {keras_size} bytes ({keras_size / size:.1f}x)"
    )
    assert size < keras_size / 4

    restored = keras_svd.load_sparse(path)
    assert keras_svd.variational_layers(restored) == []
    x = np.random.default_rng(1).random((8, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(_predict(restored, x), _predict(stripped, x))
    for old, new in zip(stripped.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_load_sparse_into_a_given_model(tmp_path):
    stripped = keras_svd.strip_variational(_pruned_lenet(seed=2))
    path = tmp_path / "lenet.npz"
    keras_svd.save_sparse(stripped, path)
    target = models.lenet_300_100(variational=False)
    assert keras_svd.load_sparse(path, model=target) is target
    x = np.random.default_rng(3).random((4, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(_predict(target, x), _predict(stripped, x))
    with pytest.raises(ValueError, match="do not match.*Received: model="):
        keras_svd.load_sparse(path, model=models.lenet5_caffe(False))


def test_sparse_file_keeps_compact_models_and_custom_layers(tmp_path):
    small, _ = keras_svd.compact(_pruned_lenet(seed=4))
    assert any(
        isinstance(layer, keras_svd.FeatureGather) for layer in small.layers
    )
    path = tmp_path / "small.npz"
    keras_svd.save_sparse(small, path)
    restored = keras_svd.load_sparse(path)
    x = np.random.default_rng(5).random((4, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(_predict(restored, x), _predict(small, x))


def test_save_sparse_refuses_to_overwrite_without_permission(tmp_path):
    model = keras_svd.strip_variational(_pruned_lenet())
    path = tmp_path / "lenet.npz"
    path.write_bytes(b"precious")
    with pytest.raises(ValueError, match="overwrite=True.*Received: path="):
        keras_svd.save_sparse(model, path)
    assert path.read_bytes() == b"precious"
    keras_svd.save_sparse(model, path, overwrite=True)
    assert keras_svd.load_sparse(path).count_params() == model.count_params()


@pytest.mark.parametrize(
    "content", [b"", b"not a zip file", b"PK\x03\x04truncated"]
)
def test_load_sparse_rejects_a_corrupt_file(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a readable.*Received: path="):
        keras_svd.load_sparse(path)


def test_load_sparse_rejects_another_npz_and_a_missing_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.ones(3))
    with pytest.raises(ValueError, match="not a readable.*Received: path="):
        keras_svd.load_sparse(path)
    with pytest.raises(
        FileNotFoundError, match="No such file.*Received: path="
    ):
        keras_svd.load_sparse(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="not a file.*Received: path="):
        keras_svd.load_sparse(tmp_path)


def test_sparse_storage_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="Received: model="):
        keras_svd.save_sparse(keras.layers.Dense(2), tmp_path / "a.npz")
    model = keras_svd.strip_variational(_pruned_lenet())
    with pytest.raises(TypeError, match="Received: path=3"):
        keras_svd.save_sparse(model, 3)
    with pytest.raises(FileNotFoundError, match="Received: path="):
        keras_svd.save_sparse(model, tmp_path / "missing" / "a.npz")
    with pytest.raises(ValueError, match="Received: overwrite="):
        keras_svd.save_sparse(model, tmp_path / "a.npz", overwrite="yes")
