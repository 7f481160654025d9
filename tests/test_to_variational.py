"""Tests for keras_svd.to_variational (from a pretrained model)."""

import warnings

import keras
import numpy as np
import pytest

import keras_svd
from keras_svd import datasets
from keras_svd import models
from keras_svd.layers import VariationalConv2D
from keras_svd.layers import VariationalDense


def _dense_chain():
    return keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(3, name="logits"),
        ],
        name="chain",
    )


def _conv_net():
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    inner = keras.Sequential(
        [keras.layers.Flatten(), keras.layers.Dense(5, name="inner_dense")],
        name="head",
    )
    outputs = keras.layers.Dense(2, name="logits")(inner(x))
    return keras.Model(inputs, outputs, name="convnet")


def _away_from_zero(model, smallest=0.01):
    """Moves every kernel entry to |w| >= smallest (none starts pruned)."""
    for layer in keras_svd.model_utils.all_layers(model):
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            w = keras.ops.convert_to_numpy(layer.kernel)
            sign = np.where(w < 0, -1.0, 1.0)
            layer.kernel.assign(sign * np.maximum(np.abs(w), smallest))
            if layer.use_bias:
                layer.bias.assign(np.linspace(-0.5, 0.5, layer.bias.shape[0]))


def _snapshot(model):
    return model.get_config(), [w.copy() for w in model.get_weights()]


def _assert_unchanged(model, snapshot):
    config, weights = snapshot
    assert model.get_config() == config
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("build", [_dense_chain, _conv_net])
def test_conversion_keeps_the_deterministic_predictions(build):
    model = build()
    model.compile("adam", "mse")
    _away_from_zero(model)
    before = _snapshot(model)
    x = np.random.default_rng(0).normal(size=(16, *model.input_shape[1:]))
    x = x.astype("float32")

    converted = keras_svd.to_variational(model)

    variational = keras_svd.variational_layers(converted)
    plain = [
        layer
        for layer in keras_svd.model_utils.all_layers(model)
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))
    ]
    assert [layer.name for layer in variational] == [
        layer.name for layer in plain
    ]
    for layer in variational:
        assert float(keras.ops.convert_to_numpy(layer.log_sigma2).max()) == -10
    np.testing.assert_allclose(
        converted.predict(x, verbose=0), model.predict(x, verbose=0),
        rtol=1e-5, atol=1e-6,
    )
    assert not converted.compiled
    _assert_unchanged(model, before)


def test_weights_below_the_threshold_start_pruned_and_are_counted():
    model = _dense_chain()
    _away_from_zero(model)
    kernel = keras.ops.convert_to_numpy(model.get_layer("hidden").kernel)
    # log alpha = -10 - log(theta^2 + 1e-8) >= 3 for |theta| <= ~1.5e-3.
    kernel[0, :5] = [1e-3, -1e-3, 1e-4, 0.0, 1.4e-3]
    kernel[1, 0] = 2e-3  # log alpha = 2.43: kept.
    model.get_layer("hidden").kernel.assign(kernel)

    with pytest.warns(UserWarning, match=r"hidden: 5 of 192"):
        converted = keras_svd.to_variational(model)

    report = {r["layer"]: r for r in keras_svd.sparsity_report(converted)}
    assert report["hidden"]["weights"] - report["hidden"]["kept"] == 5
    assert report["logits"]["weights"] == report["logits"]["kept"]
    # Predictions are those of the model with exactly those weights zeroed.
    kernel[0, :5] = 0.0
    model.get_layer("hidden").kernel.assign(kernel)
    x = np.random.default_rng(1).normal(size=(8, 12)).astype("float32")
    np.testing.assert_allclose(
        converted.predict(x, verbose=0), model.predict(x, verbose=0),
        rtol=1e-5, atol=1e-6,
    )


def test_no_warning_when_no_weight_starts_pruned():
    model = _dense_chain()
    _away_from_zero(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        keras_svd.to_variational(model)


def test_a_lower_log_sigma2_init_keeps_small_weights():
    model = _dense_chain()
    _away_from_zero(model)
    kernel = keras.ops.convert_to_numpy(model.get_layer("hidden").kernel)
    kernel[0, 0] = 1e-3
    model.get_layer("hidden").kernel.assign(kernel)
    converted = keras_svd.to_variational(model, log_sigma2_init=-20.0)
    assert keras_svd.compression_ratio(converted) == 1.0


@pytest.mark.parametrize(
    "selector",
    [["hidden"], ("hidden",), lambda layer: layer.name == "hidden"],
    ids=["list", "tuple", "predicate"],
)
def test_layers_selects_what_is_converted(selector):
    model = _dense_chain()
    converted = keras_svd.to_variational(
        model, layers=selector, threshold=2.5, train_clip=True
    )
    hidden = converted.get_layer("hidden")
    assert isinstance(hidden, VariationalDense)
    assert hidden.threshold == 2.5 and hidden.train_clip
    assert hidden.activation is keras.activations.relu
    logits = converted.get_layer("logits")
    assert type(logits) is keras.layers.Dense
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(logits.kernel),
        keras.ops.convert_to_numpy(model.get_layer("logits").kernel),
    )


def test_nested_and_conv_layers_are_converted():
    converted = keras_svd.to_variational(_conv_net())
    assert isinstance(converted.get_layer("conv"), VariationalConv2D)
    inner = converted.get_layer("head").get_layer("inner_dense")
    assert isinstance(inner, VariationalDense)


def test_converted_model_saves_and_loads(tmp_path):
    model = _dense_chain()
    _away_from_zero(model)
    converted = keras_svd.to_variational(model)
    path = tmp_path / "converted.keras"
    converted.save(path)
    loaded = keras.saving.load_model(path)
    x = np.ones((2, 12), "float32")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), converted.predict(x, verbose=0),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layers": ["nope"]}, r"layers names layers .* does not have.*nope"),
        ({"layers": ["dropout"]}, r"not keras.layers.Dense.*dropout \(Dropout"),
        ({"layers": "hidden"}, r"Received: layers='hidden'"),
        ({"layers": 3}, r"Received: layers=3"),
        ({"layers": lambda layer: False}, r"no layer to convert"),
        ({"log_sigma2_init": float("nan")}, r"log_sigma2_init"),
        ({"threshold": "3"}, r"threshold"),
        ({"train_clip": "yes"}, r"train_clip"),
    ],
)
def test_bad_arguments_raise_and_leave_the_model_untouched(kwargs, match):
    model = _dense_chain()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=match):
        keras_svd.to_variational(model, **kwargs)
    _assert_unchanged(model, before)


def test_models_it_cannot_convert_raise():
    with pytest.raises(ValueError, match="model"):
        keras_svd.to_variational("model.keras")
    unbuilt = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="not built"):
        keras_svd.to_variational(unbuilt)
    no_dense = keras.Sequential([keras.Input((4,)), keras.layers.ReLU()])
    with pytest.raises(ValueError, match="no layer to convert"):
        keras_svd.to_variational(no_dense)


def test_fine_tuning_a_pretrained_lenet_300_100_sparsifies_it(mnist_dir):
    (x, y), (x_test, y_test) = datasets.load_numpy(
        "mnist", source_dir=mnist_dir
    )
    x, y = x[:10000], y[:10000]
    x_test, y_test = x_test[:2000], y_test[:2000]
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    dense = models.lenet_300_100(variational=False)
    dense.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
    dense.fit(x, y, batch_size=100, epochs=3, verbose=0)
    dense_accuracy = dense.evaluate(x_test, y_test, verbose=0)[1]

    model = keras_svd.to_variational(dense, train_clip=True)
    start = keras_svd.measure_sparsity(model)
    assert start["sparsity"] < 0.05  # Few trained weights start pruned.
    keras_svd.set_num_train_examples(model, len(x))
    model.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
    model.fit(
        x, y, batch_size=100, epochs=6, verbose=0,
        callbacks=[
            keras_svd.callbacks.KLAnnealing(
                keras_svd.schedules.LinearWarmup(0, 3)
            )
        ],
    )
    end = keras_svd.measure_sparsity(model)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert end["sparsity"] > 0.5, end["sparsity"]
    assert accuracy > dense_accuracy - 0.03, (accuracy, dense_accuracy)
