import numpy as np
import keras
import pytest

from keras_svd.layers import VariationalConv2D
from tests.gradients import value_and_gradients
from tests.layer_test_case import run_layer_test


def test_layer_contract():
    run_layer_test(
        VariationalConv2D,
        {
            "filters": 4,
            "kernel_size": (3, 2),
            "strides": 1,
            "padding": "same",
            "data_format": "channels_last",
            "dilation_rate": (2, 1),
            "groups": 2,
            "activation": "relu",
            "use_bias": True,
            "kernel_initializer": "he_normal",
            "bias_initializer": "zeros",
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
            "log_sigma2_init": -6.0,
            "threshold": 3.0,
            "train_clip": False,
            "num_train_examples": 50,
            "kl_weight": 1.0,
            "seed": 1,
        },
        input_shape=(2, 7, 6, 4),
        expected_output_shape=(2, 7, 6, 4),
        expected_num_trainable_weights=3,
        expected_num_non_trainable_weights=4,
        expected_num_losses=1,
    )


@pytest.mark.parametrize(
    "kwargs, input_shape",
    [
        ({"kernel_size": 5}, (2, 28, 28, 1)),
        ({"kernel_size": 3, "strides": 2, "padding": "same"}, (2, 9, 8, 3)),
        ({"kernel_size": 3, "strides": (2, 3)}, (2, 11, 10, 3)),
        ({"kernel_size": 3, "dilation_rate": 2}, (2, 11, 10, 3)),
    ],
)
def test_output_shape_matches_keras_conv2d(kwargs, input_shape):
    layer = VariationalConv2D(5, num_train_examples=1, **kwargs)
    reference = keras.layers.Conv2D(5, **kwargs)
    x = np.ones(input_shape, "float32")
    expected = tuple(reference(x).shape)
    assert tuple(layer(x).shape) == expected
    assert layer.compute_output_shape(input_shape) == expected


def _set(layer, kernel, log_sigma2, bias):
    rest = [keras.ops.convert_to_numpy(w) for w in layer.weights[3:]]
    layer.set_weights([kernel, log_sigma2, bias] + rest)


def _conv(x, kernel, strides=1):
    """The "valid" cross-correlation of NHWC `x` with an HWIO `kernel`.

    The NumPy reference: float64, one output position at a time.
    """
    x, kernel = x.astype("float64"), kernel.astype("float64")
    kh, kw = kernel.shape[:2]
    out_h = (x.shape[1] - kh) // strides + 1
    out_w = (x.shape[2] - kw) // strides + 1
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * strides, j * strides
            patch = x[:, top : top + kh, left : left + kw]
            out[:, i, j] = np.einsum("nhwc,hwcf->nf", patch, kernel)
    return out


def test_local_reparameterization_moments():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 5, 5, 2)).astype("float32")
    kernel = rng.normal(size=(3, 3, 2, 3)).astype("float32")
    log_sigma2 = rng.uniform(-4, 1, size=kernel.shape).astype("float32")
    bias = np.array([0.5, -1.0, 0.0], "float32")
    layer = VariationalConv2D(3, 3, strides=2, num_train_examples=1)
    layer.build((None, 5, 5, 2))
    _set(layer, kernel, log_sigma2, bias)
    n = 20000
    samples = keras.ops.convert_to_numpy(
        layer(np.repeat(x, n, axis=0), training=True)
    )
    log_alpha = np.clip(log_sigma2 - np.log(kernel**2 + 1e-8), -8, 8)
    expected_mean = _conv(x, kernel, strides=2) + bias
    expected_var = (
        _conv(x**2, np.exp(log_alpha) * kernel**2, strides=2) + 1e-8
    )
    std_error = np.sqrt(expected_var / n)
    assert np.all(np.abs(samples.mean(0) - expected_mean[0]) < 6 * std_error)
    # sqrt(2 / n) = 1% relative std of a sample variance; 6% is 6 of them.
    np.testing.assert_allclose(samples.var(0), expected_var[0], rtol=0.06)


def test_inference_is_the_exact_masked_convolution():
    rng = np.random.default_rng(1)
    kernel = rng.choice([-1.0, 1.0], size=(2, 2, 1, 2)).astype("float32")
    log_sigma2 = rng.choice([2.9, 3.1, -5.0, 9.0], size=kernel.shape).astype(
        "float32"
    )
    bias = np.array([0.1, -0.2], "float32")
    layer = VariationalConv2D(2, 2, num_train_examples=1)
    layer.build((None, 4, 4, 1))
    _set(layer, kernel, log_sigma2, bias)
    mask = (log_sigma2 < 3.0).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.pruning_mask()), mask
    )
    x = rng.normal(size=(3, 4, 4, 1)).astype("float32")
    expected = _conv(x, kernel * mask) + bias
    y1 = keras.ops.convert_to_numpy(layer(x))
    y2 = keras.ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_allclose(y1, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y1, y2)


def test_channels_first_agrees_with_channels_last():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    last = VariationalConv2D(4, 3, data_format="channels_last")
    first = VariationalConv2D(4, 3, data_format="channels_first")
    last.build((None, 6, 6, 3))
    first.build((None, 3, 6, 6))
    first.set_weights(last.get_weights())
    y_last = keras.ops.convert_to_numpy(last(x))
    y_first = keras.ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_allclose(
        np.transpose(y_first, (0, 2, 3, 1)), y_last, rtol=1e-5, atol=1e-5
    )


def test_gradients_exist_and_are_finite():
    layer = VariationalConv2D(3, 3, num_train_examples=10, train_clip=True)
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 2)).astype("float32")
    layer.build((None, 6, 6, 2))

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


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 0, "kernel_size": 3}, r"Received: filters=0"),
        ({"filters": 2.0, "kernel_size": 3}, r"Received: filters=2.0"),
        ({"filters": 2, "kernel_size": 0}, r"Received: kernel_size=0"),
        ({"filters": 2, "kernel_size": (3,)}, r"Received: kernel_size=\(3,\)"),
        ({"filters": 2, "kernel_size": "3"}, r"Received: kernel_size='3'"),
        ({"filters": 2, "kernel_size": 3, "strides": -1}, r"strides=-1"),
        (
            {"filters": 2, "kernel_size": 3, "dilation_rate": (1, 0)},
            r"dilation_rate=\(1, 0\)",
        ),
        (
            {"filters": 2, "kernel_size": 3, "padding": "full"},
            r"Received: padding='full'",
        ),
        (
            {"filters": 2, "kernel_size": 3, "data_format": "NHWC"},
            r"Received: data_format='NHWC'",
        ),
        ({"filters": 4, "kernel_size": 3, "groups": 3}, r"Received: groups=3"),
        (
            {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
            r"strides > 1 cannot be combined",
        ),
        (
            {"filters": 2, "kernel_size": 3, "threshold": float("nan")},
            r"Received: threshold=nan",
        ),
        (
            {"filters": 2, "kernel_size": 3, "log_sigma2_init": float("inf")},
            r"Received: log_sigma2_init=inf",
        ),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VariationalConv2D(**kwargs)


@pytest.mark.parametrize("shape", [(28, 28), (4, 28, 28, 1, 1), (5,)])
def test_wrong_input_rank_raises_clearly(shape):
    layer = VariationalConv2D(2, 3)
    with pytest.raises(ValueError, match=r"4D inputs.*Received: input_shape"):
        layer.build(shape)


def test_groups_must_divide_input_channels():
    layer = VariationalConv2D(4, 3, groups=2)
    with pytest.raises(ValueError, match=r"divisible by groups=2"):
        layer.build((None, 8, 8, 3))


def test_kernel_larger_than_the_input_raises_in_build():
    layer = VariationalConv2D(1, 2)
    match = r"larger than its input.*\(1, 1, 1, 3\)"
    with pytest.raises(ValueError, match=match):
        layer.build((1, 1, 1, 3))
    with pytest.raises(ValueError, match="larger than its input"):
        keras.Sequential(
            [keras.Input((4, 4, 1)), VariationalConv2D(1, 3, dilation_rate=2)]
        )
    # 'same' padding keeps any size.
    same = VariationalConv2D(1, 2, padding="same")
    out = same(np.ones((1, 1, 1, 3), "float32"))
    assert tuple(out.shape) == (1, 1, 1, 1)
