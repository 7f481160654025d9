"""Tests of the backend-neutral gradient helper in tests/gradients.py."""

import keras
import numpy as np
from keras import ops

from tests.gradients import value_and_gradients


def _numpy(tensors):
    return [ops.convert_to_numpy(t) for t in tensors]


def test_gradients_equal_the_closed_form():
    w0 = np.array([1.0, -2.0, 3.0], "float32")
    b0 = np.array([[0.5, -1.5]], "float32")
    w = keras.Variable(w0)
    b = keras.Variable(b0)

    # f = sum(w^3) + sum(b) * sum(w) + 2 * sum(b^2)
    def fn():
        return (
            ops.sum(w**3) + ops.sum(b) * ops.sum(w) + 2.0 * ops.sum(b**2)
        )

    value, (d_w, d_b) = value_and_gradients(fn, [w, b])

    expected = np.sum(w0**3) + np.sum(b0) * np.sum(w0) + 2 * np.sum(b0**2)
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-6)
    np.testing.assert_allclose(
        ops.convert_to_numpy(d_w), 3 * w0**2 + np.sum(b0), rtol=1e-6
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(d_b), np.sum(w0) + 4 * b0, rtol=1e-6
    )
    # The variables are read, not changed.
    np.testing.assert_array_equal(w.numpy(), w0)
    np.testing.assert_array_equal(b.numpy(), b0)


def test_non_trainable_variables_get_gradients_and_unused_ones_zeros():
    frozen = keras.Variable(np.array([2.0, 3.0], "float32"), trainable=False)
    unused = keras.Variable(np.ones((2, 2), "float32"))

    value, gradients = value_and_gradients(
        lambda: ops.sum(ops.exp(frozen)), [frozen, unused]
    )

    d_frozen, d_unused = _numpy(gradients)
    np.testing.assert_allclose(d_frozen, np.exp([2.0, 3.0]), rtol=1e-6)
    np.testing.assert_array_equal(d_unused, np.zeros((2, 2)))
    assert not frozen.trainable
    # The helper leaves no trace: a second call gives the same result.
    again, _ = value_and_gradients(lambda: ops.sum(ops.exp(frozen)), [frozen])
    np.testing.assert_allclose(
        ops.convert_to_numpy(again), ops.convert_to_numpy(value)
    )


def test_losses_a_layer_adds_inside_fn_are_differentiated():
    # A Dense layer with an L2 kernel regularizer: the loss is
    # sum(x @ kernel + bias) + 0.1 * sum(kernel^2), read from layer.losses.
    layer = keras.layers.Dense(
        2, kernel_regularizer=keras.regularizers.L2(0.1), bias_initializer="ones"
    )
    layer.build((None, 3))
    x = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 4.0]], "float32")
    kernel = layer.kernel.numpy()

    def fn():
        y = layer(x)
        return ops.sum(y) + sum(layer.losses)

    value, (d_kernel, d_bias) = value_and_gradients(
        fn, [layer.kernel, layer.bias]
    )

    expected = np.sum(x @ kernel + 1.0) + 0.1 * np.sum(kernel**2)
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-5)
    expected_d_kernel = np.repeat(x.sum(0)[:, None], 2, axis=1) + 0.2 * kernel
    np.testing.assert_allclose(
        ops.convert_to_numpy(d_kernel), expected_d_kernel, rtol=1e-5
    )
    np.testing.assert_allclose(ops.convert_to_numpy(d_bias), [2.0, 2.0])
