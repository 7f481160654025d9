"""Saving and loading a model that uses all three layers."""

import numpy as np
import keras

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
