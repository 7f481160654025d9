"""Saving and loading a model that uses all three layers."""

import io
import pathlib
import zipfile

import keras
import numpy as np
import pytest

import keras_svd
from keras_svd.layers import PermaDropout
from keras_svd.layers import VariationalConv2D
from keras_svd.layers import VariationalDense


def _model():
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            VariationalConv2D(4, 3, activation="relu", train_clip=True),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            VariationalDense(16, activation="relu"),
            PermaDropout(0.5),
            VariationalDense(3),
        ]
    )


def test_keras_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((64, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    model = _model()
    keras_svd.set_num_train_examples(model, 64)
    keras_svd.set_kl_weight(model, 0.3)
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    # The deterministic part: everything but the PermaDropout and after.
    def features(m):
        return keras.Model(m.inputs, m.layers[3].output)

    np.testing.assert_array_equal(
        features(model).predict(x, verbose=0),
        features(loaded).predict(x, verbose=0),
    )
    # The whole model with dropout off: identical predictions.
    for m in (model, loaded):
        m.layers[4].rate = 0.0
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )
    assert keras_svd.sparsity_report(loaded) == keras_svd.sparsity_report(model)
    for a, b in zip(
        keras_svd.variational_layers(model), keras_svd.variational_layers(loaded)
    ):
        assert b.get_config() == a.get_config()
        assert b.num_train_examples == 64
        assert float(b.kl_weight_variable.numpy()) == np.float32(0.3)
    # The reloaded model keeps training.
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0)


FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def test_files_saved_by_release_0_1_0_still_load():
    model = keras.saving.load_model(FIXTURES / "model_v0_1_0.keras")
    reference = np.load(FIXTURES / "model_v0_1_0.npz")
    assert [type(layer).__name__ for layer in model.layers] == [
        "VariationalConv2D",
        "MaxPooling2D",
        "Flatten",
        "VariationalDense",
        "PermaDropout",
        "VariationalDense",
    ]
    # The same weights: the same deterministic outputs and the same masks.
    hidden = keras.Sequential(model.layers[:4])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(hidden(reference["probe"], training=False)),
        reference["hidden"],
        rtol=1e-5,
        atol=1e-6,
    )
    logits = model.layers[-1](reference["hidden"], training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(logits),
        reference["logits_from_hidden"],
        rtol=1e-5,
        atol=1e-6,
    )
    report = keras_svd.sparsity_report(model)
    np.testing.assert_array_equal(
        [[row["weights"], row["kept"]] for row in report], reference["report"]
    )
    assert 0 < report[1]["kept"] < report[1]["weights"]
    # The state saved then: N, beta (0.5 on the last layer) and no sampling.
    last = model.layers[-1]
    assert float(keras.ops.convert_to_numpy(last.kl_weight_variable)) == 0.5
    assert float(
        keras.ops.convert_to_numpy(last.inv_num_train_examples)
    ) == pytest.approx(1 / 64)
    assert float(keras.ops.convert_to_numpy(last.sample_at_inference)) == 0.0
    # It trains on (optimizer state included), logs `kl` and saves again in
    # the same format (six variables a layer: `kl_log` is not saved).
    rng = np.random.default_rng(0)
    x = rng.random((32, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, 32)
    history = model.fit(
        x,
        y,
        batch_size=16,
        verbose=0,
        callbacks=[keras_svd.callbacks.KLAnnealing(1.0)],
    )
    assert np.isfinite(history.history["kl"][0])
    assert history.history["kl"][0] > 0


def test_saved_file_keeps_the_0_1_0_format(tmp_path):
    model = _model()
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        weights = archive.read("model.weights.h5")
    import h5py

    with h5py.File(io.BytesIO(weights)) as store:
        for name in ("variational_conv2d", "variational_dense"):
            group = store[f"layers/{name}/vars"]
            assert sorted(group.keys(), key=int) == [str(i) for i in range(6)]
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].kl_log_variable().shape == (3,)
