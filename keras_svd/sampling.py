"""Switches the weight noise of variational layers on at inference.

A variational layer (`VariationalDense`, `VariationalConv2D`, or any layer of
`keras_svd.layers.VariationalProtocol`) uses its pruned mean weights at
inference. Setting the layer's non-trainable float32 variable
(`layer.sampling_variable()`) to 1.0 makes inference sample the
pre-activations with
the local reparameterization trick instead (Molchanov et al., ICML 2017),
which turns the network into a Bayesian ensemble for Monte-Carlo prediction.
The switch is a variable, not a Python attribute, so a function compiled
before the switch (`model.predict`, a `tf.function`, a `jax.jit`) follows it
without retracing.
"""

import contextlib

from keras import ops

from keras_svd.model_utils import require_built
from keras_svd.model_utils import variational_layers
from keras_svd.validation import check_bool


def _sampling_variables(model):
    """The `sampling_variable()` of every variational layer of `model`."""
    layers = variational_layers(model)
    require_built(layers, model)
    return [(layer, layer.sampling_variable()) for layer in layers]


def set_weight_sampling(model, enabled):
    """Turns weight sampling at inference on or off for a whole model.

    Assigns 1.0 (`enabled=True`) or 0.0 to the `sampling_variable()`
    of every variational layer of `model`, nested models included.
    The other layers are untouched: `PermaDropout` samples anyway, plain
    `Dropout` and `BatchNormalization` stay in inference mode.

    Args:
        model: a built Keras model or layer. A model without variational
            layers is accepted and left as it is.
        enabled: `True` to sample the weights at inference, `False` to use
            the pruned mean weights.

    Returns:
        The list of variational layers that were switched.

    Example:

    ```python
    keras_svd.set_weight_sampling(model, True)
    a = model.predict(x)  # two different samples
    b = model.predict(x)
    keras_svd.set_weight_sampling(model, False)
    ```
    """
    value = 1.0 if check_bool(enabled, "enabled") else 0.0
    pairs = _sampling_variables(model)
    for _, variable in pairs:
        variable.assign(value)
    return [layer for layer, _ in pairs]


@contextlib.contextmanager
def sampling_mode(model, enabled=True):
    """Context manager: samples the variational layers' weights at inference.

    On entry, sets the `sampling_variable()` of every variational
    layer of `model` (nested models included) to 1.0 (or 0.0 with
    `enabled=False`); on exit, even through an exception, restores each
    layer's previous value, so the blocks nest.

    Args:
        model: a built Keras model or layer. A model without variational
            layers is accepted; the block then changes nothing.
        enabled: `True` (the default) to sample inside the block, `False` to
            force the deterministic pruned mean inside it.

    Yields:
        The list of variational layers that were switched.

    Example:

    ```python
    with keras_svd.sampling_mode(model):
        samples = [model.predict(x, verbose=0) for _ in range(10)]
    deterministic = model.predict(x, verbose=0)
    ```
    """
    value = 1.0 if check_bool(enabled, "enabled") else 0.0
    pairs = _sampling_variables(model)
    previous = [
        float(ops.convert_to_numpy(variable)) for _, variable in pairs
    ]
    try:
        for _, variable in pairs:
            variable.assign(value)
        yield [layer for layer, _ in pairs]
    finally:
        for (_, variable), old in zip(pairs, previous):
            variable.assign(old)


__all__ = ["sampling_mode", "set_weight_sampling"]
