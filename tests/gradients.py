"""Gradients on whichever backend Keras runs, through the public API.

`value_and_gradients(fn, variables)` is what a test needs from
`tf.GradientTape`, `jax.grad` or `torch.autograd`: the value of a scalar
function of some Keras variables and its gradient with respect to each.
"""

import keras


def value_and_gradients(fn, variables):
    """Returns `fn()` and its gradients with respect to `variables`.

    Args:
        fn: a function of no arguments returning a scalar tensor. It reads
            the variables (directly or through layers that own them).
        variables: a list of `keras.Variable`s, trainable or not.

    Returns:
        `(value, gradients)`: `fn()`'s value and one gradient per variable
        (backend tensors of the variable's shape). A variable `fn()` does
        not depend on gets zeros on every backend, as JAX gives.

    On TensorFlow `fn()` runs under a `tf.GradientTape` watching the
    variables; on PyTorch autograd differentiates with respect to the
    variables' tensors. On JAX, `jax.value_and_grad` traces `fn()` inside a
    `keras.StatelessScope` that maps each variable to its traced value and
    collects the losses layers add (so `layer.losses` inside `fn()` holds
    them, as it does eagerly); variable assignments made by `fn()` (a seed
    generator's state, for example) are dropped on JAX only, and layers
    must be built before the call, as in Keras's own stateless calls.
    """
    variables = list(variables)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(fn, variables)
    if backend == "jax":
        return _jax(fn, variables)
    if backend == "torch":
        return _torch(fn, variables)
    raise NotImplementedError(
        f"No gradients for the {backend!r} backend in the tests."
    )


def _tensorflow(fn, variables):
    import tensorflow as tf

    values = [variable.value for variable in variables]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        for value in values:
            tape.watch(value)
        result = fn()
    gradients = tape.gradient(
        result, values, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return result, gradients


def _jax(fn, variables):
    import jax

    def pure(values):
        mapping = list(zip(variables, values))
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True):
            return fn()

    values = [variable.value for variable in variables]
    result, gradients = jax.value_and_grad(pure)(values)
    return result, list(gradients)


def _torch(fn, variables):
    import torch

    values = [variable.value for variable in variables]
    # Non-trainable variables hold tensors that do not require gradients.
    frozen = [value for value in values if not value.requires_grad]
    for value in frozen:
        value.requires_grad_(True)
    try:
        with torch.enable_grad():
            result = fn()
            if result.requires_grad:
                gradients = torch.autograd.grad(
                    result, values, allow_unused=True, materialize_grads=True
                )
            else:
                gradients = [torch.zeros_like(value) for value in values]
    finally:
        for value in frozen:
            value.requires_grad_(False)
    return result.detach(), list(gradients)
