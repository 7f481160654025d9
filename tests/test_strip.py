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
        keras.ops.convert_to_numpy(head_stripped(x)),
        keras.ops.convert_to_numpy(head(x)),
        rtol=1e-5,
        atol=1e-6,
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


def _compiled_mlp():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras_svd.VariationalDense(8, activation="relu", name="hidden"),
            keras_svd.PermaDropout(0.5, name="mc"),
            keras_svd.VariationalDense(3, name="out"),
        ]
    )
    keras_svd.set_num_train_examples(model, 16)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(4).normal(size=(16, 6)).astype("float32")
    model.fit(x, np.zeros((16, 3), "float32"), epochs=1, verbose=0)
    _randomize_log_sigma2(model)
    return model, x


def test_strip_returns_an_uncompiled_copy_that_saves_no_optimizer(tmp_path):
    import io
    import json
    import zipfile

    import h5py

    model, _ = _compiled_mlp()
    assert model.compiled and model.optimizer.built
    stripped = keras_svd.strip_variational(model)
    assert not stripped.compiled
    assert getattr(stripped, "optimizer", None) is None
    assert isinstance(stripped, keras.Sequential)
    assert [layer.name for layer in stripped.layers] == ["hidden", "mc", "out"]
    path = tmp_path / "stripped.keras"
    stripped.save(path)
    with zipfile.ZipFile(path) as archive:
        assert not json.loads(archive.read("config.json")).get(
            "compile_config"
        )
        weights = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights, "r") as store:
        assert "optimizer" not in store
    assert not keras.saving.load_model(path).compiled


def test_strip_uncompiles_a_compiled_functional_model():
    inputs = keras.Input((5,))
    outputs = keras_svd.VariationalDense(2, name="vd")(inputs)
    model = keras.Model(inputs, outputs, name="functional_model")
    model.compile(optimizer="sgd", loss="mse")
    stripped = keras_svd.strip_variational(model)
    assert not stripped.compiled and stripped.name == "functional_model"
    x = np.ones((2, 5), "float32")
    np.testing.assert_allclose(
        stripped.predict(x, verbose=0), model.predict(x, verbose=0),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize("perma_dropout", ["keep", "identity"])
def test_strip_leaves_the_input_model_unchanged(perma_dropout):
    model, x = _compiled_mlp()
    weights = [w.copy() for w in model.get_weights()]
    config = model.get_config()
    optimizer = model.optimizer
    keras_svd.strip_variational(model, perma_dropout=perma_dropout)
    assert model.get_config() == config
    assert model.compiled and model.optimizer is optimizer
    for old, new in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert type(model.get_layer("mc")).__name__ == "PermaDropout"


def test_strip_perma_dropout_identity_is_deterministic():
    model, x = _compiled_mlp()
    kept = keras_svd.strip_variational(model)
    stripped = keras_svd.strip_variational(model, perma_dropout="identity")
    layer = stripped.get_layer("mc")
    assert type(layer) is keras.layers.Identity
    assert type(kept.get_layer("mc")).__name__ == "PermaDropout"
    first = stripped.predict(x, verbose=0)
    np.testing.assert_array_equal(stripped.predict(x, verbose=0), first)
    # The dropout left out: the two variational layers' deterministic pass.
    hidden = model.get_layer("hidden")(x, training=False)
    expected = model.get_layer("out")(hidden, training=False)
    np.testing.assert_allclose(
        first, keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("value", ["drop", None, "Identity", 1])
def test_strip_rejects_an_unknown_perma_dropout_mode(value):
    model, _ = _compiled_mlp()
    with pytest.raises(
        ValueError, match=f"perma_dropout must be.*Received: perma_dropout="
    ):
        keras_svd.strip_variational(model, perma_dropout=value)
