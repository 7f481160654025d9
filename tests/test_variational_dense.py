import warnings

import numpy as np
import keras
import pytest

import keras_svd
from keras_svd import kl as kl_lib
from keras_svd.layers import VariationalDense
from tests.gradients import value_and_gradients
from tests.layer_test_case import run_layer_test


def test_layer_contract():
    run_layer_test(
        VariationalDense,
        {
            "units": 5,
            "activation": "relu",
            "use_bias": True,
            "kernel_initializer": "he_normal",
            "bias_initializer": "ones",
            "kernel_regularizer": "l2",
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
            "log_sigma2_init": -8.0,
            "threshold": 2.5,
            "train_clip": True,
            "num_train_examples": 100,
            "kl_weight": 0.5,
            "seed": 7,
        },
        input_shape=(4, 3),
        expected_output_shape=(4, 5),
        expected_num_trainable_weights=3,
        expected_num_non_trainable_weights=4,
        # The KL term and the kernel regularizer.
        expected_num_losses=2,
    )


def test_rank3_inputs_like_dense():
    layer = VariationalDense(4, num_train_examples=10)
    y = layer(np.ones((2, 3, 6), "float32"))
    assert tuple(y.shape) == (2, 3, 4)


def _set(layer, kernel, log_sigma2, bias):
    rest = [keras.ops.convert_to_numpy(w) for w in layer.weights[3:]]
    layer.set_weights([kernel, log_sigma2, bias] + rest)


def _kl(layer):
    return float(keras.ops.convert_to_numpy(layer.kl_divergence()))


def test_local_reparameterization_moments():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 6)).astype("float32")
    kernel = rng.normal(size=(6, 4)).astype("float32")
    log_sigma2 = rng.uniform(-4, 1, size=(6, 4)).astype("float32")
    bias = np.array([0.5, -1.0, 0.0, 2.0], "float32")
    layer = VariationalDense(4, num_train_examples=1)
    layer.build((None, 6))
    _set(layer, kernel, log_sigma2, bias)

    n = 40000
    samples = keras.ops.convert_to_numpy(
        layer(np.repeat(x, n, axis=0), training=True)
    )
    log_alpha = np.clip(log_sigma2 - np.log(kernel**2 + 1e-8), -8, 8)
    expected_mean = x @ kernel + bias
    expected_var = (x**2) @ (np.exp(log_alpha) * kernel**2) + 1e-8
    # Mean: 6 standard errors; variance: the sample variance's relative
    # standard deviation is sqrt(2 / n) = 0.7%, so 5% is > 7 of them.
    std_error = np.sqrt(expected_var / n)
    assert np.all(np.abs(samples.mean(0) - expected_mean) < 6 * std_error)
    np.testing.assert_allclose(samples.var(0), expected_var[0], rtol=0.05)
    # Fresh noise per example: no two rows agree.
    assert len(np.unique(samples[:, 0])) > 0.99 * n


def test_inference_is_the_exact_masked_product():
    # theta = +-1, so log alpha = log_sigma2 (up to 1e-8).
    kernel = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]], "float32")
    log_sigma2 = np.array([[2.9, 3.1, -5.0], [10.0, 2.99, 3.0]], "float32")
    bias = np.array([0.25, -0.5, 1.0], "float32")
    layer = VariationalDense(3, threshold=3.0, num_train_examples=1)
    layer.build((None, 2))
    _set(layer, kernel, log_sigma2, bias)
    x = np.array([[1.5, -2.0], [0.3, 0.7]], "float32")
    mask = np.array([[1, 0, 1], [0, 1, 0]], "float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.pruning_mask()), mask
    )
    expected = x @ (kernel * mask) + bias
    for _ in range(2):
        y = keras.ops.convert_to_numpy(layer(x, training=False))
        np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)
    # Clipped log alpha: 10 -> 8.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.log_alpha())[1, 0], 8.0
    )


@pytest.mark.parametrize("threshold", [-9.0, -8.0, -3.0, 0.0, 3.0, 8.0, 9.0])
def test_inference_mask_matches_pruning_mask_at_every_threshold(threshold):
    # The deterministic pass skips the clip of log alpha for -8 < t <= 8;
    # raw log alpha of -12 .. 12 straddles the clip and every threshold.
    raw = np.linspace(-12.0, 12.0, 49, dtype="float32")
    kernel = np.where(np.arange(49) % 2 == 0, 0.5, -0.5).astype("float32")
    log_sigma2 = (raw + np.log(0.25 + 1e-8)).astype("float32")
    layer = VariationalDense(49, threshold=threshold, num_train_examples=1)
    layer.build((None, 1))
    _set(layer, kernel[None], log_sigma2[None], np.zeros(49, "float32"))
    mask = keras.ops.convert_to_numpy(layer.pruning_mask())[0]
    expected_mask = (np.clip(raw, -8.0, 8.0) < threshold).astype("float32")
    # Away from the exact boundary, where float rounding may go either way.
    far = np.abs(np.clip(raw, -8, 8) - threshold) > 1e-3
    np.testing.assert_array_equal(mask[far], expected_mask[far])
    y = keras.ops.convert_to_numpy(layer(np.ones((1, 1), "float32")))[0]
    np.testing.assert_array_equal(y, kernel * mask)


def test_train_clip_masks_the_training_mean_only():
    kernel = np.array([[1.0, 1.0]], "float32")
    log_sigma2 = np.array([[-20.0, 5.0]], "float32")
    layer = VariationalDense(2, train_clip=True, num_train_examples=1)
    layer.build((None, 1))
    _set(layer, kernel, log_sigma2, np.zeros(2, "float32"))
    y = keras.ops.convert_to_numpy(
        layer(np.ones((20000, 1), "float32"), training=True)
    )
    # Kept weight: mean 1. Pruned weight: mean 0, but its variance stays
    # alpha * theta^2 = e^5.
    assert abs(y[:, 0].mean() - 1.0) < 0.01
    assert abs(y[:, 1].mean()) < 6 * np.sqrt(np.exp(5.0) / 20000)
    np.testing.assert_allclose(y[:, 1].var(), np.exp(5.0), rtol=0.05)


def test_fit_loss_is_nll_plus_scaled_kl_and_follows_beta():
    n_train = 1000
    model = keras.Sequential(
        [keras.Input((3,)), VariationalDense(2, log_sigma2_init=-2.0)]
    )
    keras_svd.set_num_train_examples(model, n_train)
    keras_svd.set_kl_weight(model, 0.7)
    layer = model.layers[0]
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    # Zero inputs: the output is bias + 1e-4 * eps, so the NLL is known.
    x = np.zeros((32, 3), "float32")
    y = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    bias = keras.ops.convert_to_numpy(layer.bias)
    nll = np.mean((y - bias) ** 2)
    kl = _kl(layer)
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=1,
        verbose=0,
        callbacks=[keras_svd.callbacks.KLAnnealing(0.7)],
    )
    expected = nll + 0.7 * kl / n_train
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-4)
    np.testing.assert_allclose(history.history["kl"][0], kl / n_train, rtol=1e-5)

    # beta lives in a variable: the compiled step sees the new value.
    keras_svd.set_kl_weight(model, 0.0)
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], nll, rtol=1e-4)

    # evaluate is deterministic and reports the NLL alone: the KL term is a
    # training objective (and inference skips its cost).
    keras_svd.set_kl_weight(model, 1.0)
    x_eval = np.random.default_rng(1).normal(size=(32, 3)).astype("float32")
    pred = model.predict(x_eval, verbose=0)
    logs = model.evaluate(
        x_eval, y, batch_size=32, verbose=0, return_dict=True
    )
    np.testing.assert_allclose(
        logs["loss"], np.mean((y - pred) ** 2), rtol=1e-5
    )


def test_kl_log_is_the_sum_over_layers():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            VariationalDense(8, activation="relu"),
            VariationalDense(3),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    keras_svd.set_num_train_examples(model, 50)
    x = np.ones((10, 4), "float32")
    y = np.zeros((10, 3), "float32")
    history = model.fit(
        x,
        y,
        batch_size=10,
        epochs=2,
        verbose=0,
        validation_data=(x, y),
        callbacks=[keras_svd.callbacks.KLAnnealing(1.0)],
    )
    # SGD(0): the weights, so the KL, stay as they are.
    total = sum(_kl(l) for l in model.layers) / 50
    np.testing.assert_allclose(history.history["kl"], [total, total], rtol=1e-5)
    assert "val_kl" not in history.history


def test_missing_n_warns_once_and_leaves_kl_out():
    model = keras.Sequential([keras.Input((3,)), VariationalDense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x = np.zeros((8, 3), "float32")
    y = np.ones((8, 2), "float32")
    with pytest.warns(UserWarning, match="number of training examples") as rec:
        model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert sum("number of training examples" in str(w.message) for w in rec) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    # No KL in the loss: the NLL alone (bias is zero, inputs are zero).
    np.testing.assert_allclose(
        model.evaluate(x, y, verbose=0, return_dict=True)["loss"], 1.0, rtol=1e-6
    )


def test_gradients_exist_and_are_finite():
    layer = VariationalDense(4, num_train_examples=10, train_clip=True)
    x = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")
    layer.build((None, 5))

    def loss():
        y = layer(x, training=True)
        return keras.ops.mean(y**2) + sum(layer.losses)

    _, grads = value_and_gradients(
        loss, [layer.kernel, layer.log_sigma2, layer.bias]
    )
    for grad in grads:
        grad = keras.ops.convert_to_numpy(grad)
        assert np.all(np.isfinite(grad))
        assert np.any(grad != 0)


def test_kl_gradient_pushes_log_sigma2_up():
    # log alpha inside (-8, 8), where the clip passes the gradient.
    layer = VariationalDense(2, num_train_examples=1, log_sigma2_init=-1.0)
    layer.build((None, 2))
    _, (grad,) = value_and_gradients(layer.kl_divergence, [layer.log_sigma2])
    assert np.all(keras.ops.convert_to_numpy(grad) < 0)


def test_integer_inputs_are_cast():
    layer = VariationalDense(2, num_train_examples=1)
    y = layer(np.array([[1, 2, 3]], "int32"))
    assert keras.backend.standardize_dtype(y.dtype) == "float32"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": 0}, r"units must be a positive integer. Received: units=0"),
        ({"units": -3}, r"Received: units=-3"),
        ({"units": 2.5}, r"Received: units=2.5"),
        ({"units": "8"}, r"Received: units='8'"),
        ({"units": 4, "threshold": float("inf")}, r"Received: threshold=inf"),
        ({"units": 4, "threshold": "3"}, r"Received: threshold='3'"),
        (
            {"units": 4, "log_sigma2_init": float("nan")},
            r"Received: log_sigma2_init=nan",
        ),
        ({"units": 4, "train_clip": "yes"}, r"Received: train_clip='yes'"),
        (
            {"units": 4, "num_train_examples": 0},
            r"Received: num_train_examples=0",
        ),
        (
            {"units": 4, "num_train_examples": 10.5},
            r"Received: num_train_examples=10.5",
        ),
        ({"units": 4, "kl_weight": -1.0}, r"Received: kl_weight=-1.0"),
        ({"units": 4, "activation": "nope"}, r"nope"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VariationalDense(**kwargs)


def test_rank1_input_raises_clearly():
    layer = VariationalDense(3)
    with pytest.raises(ValueError, match=r"rank >= 2 with a known last dimension. Received: input_shape"):
        layer.build((5,))


def test_wrong_input_size_after_build_raises():
    layer = VariationalDense(3, num_train_examples=1)
    layer(np.ones((1, 4), "float32"))
    with pytest.raises(ValueError, match="incompatible"):
        layer(np.ones((1, 5), "float32"))


def test_kl_function_is_shared():
    layer = VariationalDense(3, num_train_examples=1)
    layer.build((None, 4))
    expected = np.sum(
        keras.ops.convert_to_numpy(kl_lib.kl_divergence(layer.log_alpha()))
    )
    # Float32 sums in another order (XLA's on JAX) differ by a few ulps.
    np.testing.assert_allclose(
        _kl(layer), expected, rtol=1e-6
    )


def test_use_bias_must_be_a_bool():
    match = "use_bias must be True or False. Received: use_bias='no'"
    with pytest.raises(ValueError, match=match):
        VariationalDense(4, use_bias="no")


def test_weights_born_pruned_warn_at_build():
    with pytest.warns(UserWarning, match="start pruned") as record:
        VariationalDense(4, log_sigma2_init=4.0).build((None, 8))
    # Other warnings may come first (on PyTorch, Keras's DeprecationWarning
    # about `__array__`): read the one that matched.
    messages = [
        str(w.message) for w in record if "start pruned" in str(w.message)
    ]
    assert len(messages) == 1 and "log_sigma2_init=4.0" in messages[0]


def test_default_initialization_does_not_warn(recwarn):
    VariationalDense(4).build((None, 8))
    assert not [w for w in recwarn if "start pruned" in str(w.message)]
