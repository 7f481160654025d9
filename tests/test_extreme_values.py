"""Extreme weights and inputs: outputs and gradients of the variational
layers stay finite.

Log sigma^2 of -30 and +30, theta of 0 and 1e6 and inputs of 0 and 1e4, in
every combination, for `VariationalDense` and `VariationalConv2D`, in
training (local reparameterization and the KL term) and at inference (the
pruned mean). These reach both ends of the log-alpha clip, a variance of
zero (theta = 0: the 1e-8 under the square root must keep its gradient
finite) and pre-activations near 1e11. The gradients come from
`tests/gradients.py`, so the test runs on TensorFlow, JAX and PyTorch.
"""

import itertools

import numpy as np
import pytest
from keras import ops

from keras_svd.layers import VariationalConv2D
from keras_svd.layers import VariationalDense
from tests.gradients import value_and_gradients

# The layer and the shape of its inputs.
LAYERS = {
    "dense": (
        lambda: VariationalDense(3, num_train_examples=10, seed=1),
        (2, 4),
    ),
    "conv2d": (
        lambda: VariationalConv2D(2, 3, num_train_examples=10, seed=1),
        (2, 5, 5, 2),
    ),
}
LOG_SIGMA2 = (-30.0, 30.0)
THETA = (0.0, 1e6)
INPUTS = (0.0, 1e4)
MODES = ("training", "inference")

CASES = [
    pytest.param(
        kind,
        log_sigma2,
        theta,
        x_value,
        mode,
        id=f"{kind}-log_sigma2={log_sigma2:g}-theta={theta:g}-x={x_value:g}"
        f"-{mode}",
    )
    for kind, log_sigma2, theta, x_value, mode in itertools.product(
        LAYERS, LOG_SIGMA2, THETA, INPUTS, MODES
    )
]


def _layer_with(kind, log_sigma2, theta):
    make, input_shape = LAYERS[kind]
    layer = make()
    layer.build(input_shape)
    layer.kernel.assign(np.full(layer.kernel.shape, theta, "float32"))
    layer.log_sigma2.assign(
        np.full(layer.log_sigma2.shape, log_sigma2, "float32")
    )
    layer.bias.assign(np.full(layer.bias.shape, 0.5, "float32"))
    return layer, input_shape


def _assert_finite(name, value):
    value = ops.convert_to_numpy(value)
    assert np.all(np.isfinite(value)), f"{name} is not finite: {value}"


@pytest.mark.parametrize("kind, log_sigma2, theta, x_value, mode", CASES)
def test_outputs_and_gradients_stay_finite(
    kind, log_sigma2, theta, x_value, mode
):
    layer, input_shape = _layer_with(kind, log_sigma2, theta)
    x = np.full(input_shape, x_value, "float32")
    training = mode == "training"

    outputs = layer(x, training=training)
    _assert_finite("outputs", outputs)
    assert tuple(outputs.shape) == layer.compute_output_shape(input_shape)
    # The KL term, in training only.
    assert len(layer.losses) == int(training)
    for kl_loss in layer.losses:
        _assert_finite("the KL term", kl_loss)

    def loss():
        # The outputs and, in training, the KL term the layer adds.
        y = layer(x, training=training)
        return ops.sum(y) + sum(layer.losses)

    variables = [layer.kernel, layer.log_sigma2, layer.bias]
    value, gradients = value_and_gradients(loss, variables)

    _assert_finite("loss", value)
    for variable, gradient in zip(variables, gradients):
        assert tuple(gradient.shape) == tuple(variable.shape)
        _assert_finite(f"the gradient of {variable.name}", gradient)
