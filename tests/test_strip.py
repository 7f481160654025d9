import numpy as np
import keras
import pytest

import keras_svd
from keras_svd import models


def _randomize_log_sigma2(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in keras_svd.variational_layers(model):
        shape = tuple(layer.log_sigma2.shape)
        layer.log_sigma2.assign(rng.normal(-2.0, 4.0, shape).astype("float32"))


@pytest.mark.parametrize(
    "builder", [models.lenet_300_100, models.lenet5_caffe], ids=["mlp", "cnn"]
)
def test_strip_keeps_deterministic_outputs(builder):
    model = builder(variational=True)
    _randomize_log_sigma2(model)
    stripped = keras_svd.strip_variational(model)
    x = np.random.default_rng(1).random((32, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        stripped.predict(x, verbose=0), model.predict(x, verbose=0),
        rtol=1e-5, atol=1e-6,
    )
    assert keras_svd.variational_layers(stripped) == []
    plain = {"VariationalDense": "Dense", "VariationalConv2D": "Conv2D"}
    for old, new in zip(model.layers, stripped.layers):
        assert new.name == old.name
        assert type(new).__name__ == plain.get(
            type(old).__name__, type(old).__name__
        )
    # Pruned weights are exact zeros, kept ones the trained theta.
    report = keras_svd.sparsity_report(model)
    for row, layer in zip(report, keras_svd.variational_layers(model)):
        new = stripped.get_layer(layer.name)
        kernel = keras.ops.convert_to_numpy(new.kernel)
        mask = keras.ops.convert_to_numpy(layer.pruning_mask()).astype(bool)
        assert np.count_nonzero(kernel) == row["kept"] > 0
        np.testing.assert_array_equal(
            kernel[mask], keras.ops.convert_to_numpy(layer.kernel)[mask]
        )
        assert row["sparsity"] > 0.3


def test_strip_copies_nested_models_and_shares_no_variables():
    inner = keras.Sequential(
        [
            keras.Input((4,)),
            keras_svd.VariationalDense(3, name="vd"),
            keras.layers.BatchNormalization(name="bn"),
        ],
        name="inner",
    )
    inputs = keras.Input((5,))
    outputs = inner(keras.layers.Dense(4, name="d")(inputs))
    model = keras.Model(inputs, outputs)
    _randomize_log_sigma2(model)
    bn = inner.get_layer("bn")
    bn.moving_mean.assign(np.array([0.5, -1.0, 2.0], "float32"))
    bn.moving_variance.assign(np.array([4.0, 0.25, 1.0], "float32"))

    stripped = keras_svd.strip_variational(model)
    x = np.random.default_rng(2).normal(size=(8, 5)).astype("float32")
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        stripped.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6
    )
    new_inner = stripped.get_layer("inner")
    assert type(new_inner.get_layer("vd")).__name__ == "Dense"
    old_ids = {id(v) for v in model.weights}
    assert not any(id(v) in old_ids for v in stripped.weights)
    # Training the copy leaves the original alone.
    stripped.compile(optimizer="sgd", loss="mse")
    stripped.fit(x, np.ones((8, 3), "float32"), epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)


def test_strip_keeps_perma_dropout_and_groups(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6, 6, 4)),
            keras_svd.VariationalConv2D(4, 3, groups=2, name="conv"),
            keras_svd.PermaDropout(0.5, name="mc"),
            keras.layers.Flatten(),
            keras_svd.VariationalDense(2, activation="softmax", name="out"),
        ]
    )
    _randomize_log_sigma2(model)
    stripped = keras_svd.strip_variational(model)
    assert type(stripped.get_layer("mc")).__name__ == "PermaDropout"
    assert stripped.get_layer("conv").groups == 2
    assert stripped.get_layer("out").activation is keras.activations.softmax
    # Without the dropout the two agree exactly, and the file round-trips.
    x = np.random.default_rng(3).random((5, 6, 6, 4)).astype("float32")
    head = keras.Model(model.inputs, model.get_layer("conv").output)
    head_stripped = keras.Model(
        stripped.inputs, stripped.get_layer("conv").output
    )
    np.testing.assert_allclose(
        head_stripped(x), head(x), rtol=1e-5, atol=1e-6
    )
    path = tmp_path / "stripped.keras"
    stripped.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(reloaded.get_layer("out").kernel),
        keras.ops.convert_to_numpy(stripped.get_layer("out").kernel),
    )


def test_strip_rejects_what_it_cannot_convert():
    with pytest.raises(ValueError, match="expects a keras.Model"):
        keras_svd.strip_variational(keras_svd.VariationalDense(2))
    unbuilt = keras.Sequential([keras_svd.VariationalDense(2)])
    with pytest.raises(ValueError, match="not built"):
        keras_svd.strip_variational(unbuilt)

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras_svd.VariationalDense(2)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="could not clone model.*Subclassed"):
        keras_svd.strip_variational(model)


def test_deterministic_layer_needs_a_built_layer():
    with pytest.raises(ValueError, match="is not built"):
        keras_svd.VariationalDense(2, name="fresh").deterministic_layer()
