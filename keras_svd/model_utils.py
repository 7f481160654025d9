"""Model-level utilities over the variational-layer protocol.

Every function finds layers through `keras_svd.layers.VariationalProtocol`
(see `keras_svd.layers.is_variational`) and recurses into nested models and
wrappers, so none of them depends on the concrete layer classes.
"""

import numpy as np
from keras import ops

from keras_svd.layers.variational_protocol import is_variational
from keras_svd.validation import check_finite_number
from keras_svd.validation import check_positive_int


def _children(layer):
    children = list(getattr(layer, "layers", None) or [])
    wrapped = getattr(layer, "layer", None)
    if wrapped is not None and wrapped not in children:
        children.append(wrapped)
    return children


def variational_layers(model):
    """Returns the variational layers of `model`, nested models included.

    Args:
        model: a Keras model or layer.

    Returns:
        A list of layers implementing the protocol, in the model's order,
        each once.

    Raises:
        ValueError: for a layer that implements part of the protocol
            (`log_alpha`, `kl_divergence` or `pruning_mask`) but not all of
            it; the message names the missing members.

    Example:

    ```python
    for layer in keras_svd.variational_layers(model):
        print(layer.name, layer.threshold)
    ```
    """
    found = []
    seen = set()

    def visit(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if is_variational(layer, strict=True):
            found.append(layer)
        for child in _children(layer):
            visit(child)

    visit(model)
    return found


def _require_layers(model):
    layers = variational_layers(model)
    if not layers:
        raise ValueError(
            "The model has no variational layer (VariationalDense, "
            f"VariationalConv2D, ...). Received: model={model!r}"
        )
    return layers


def set_num_train_examples(model, num_train_examples):
    """Sets N, the number of training examples, on every variational layer.

    The KL term of the objective is `beta * sum_layers(KL) / N`: call this
    once before `fit` with the size of the training set. N is a variable
    read inside the compiled step, so no retracing is needed.

    Args:
        model: a Keras model containing variational layers.
        num_train_examples: positive integer N.

    Returns:
        The list of variational layers that were updated.

    Example:

    ```python
    keras_svd.set_num_train_examples(model, len(x_train))
    model.fit(x_train, y_train)
    ```
    """
    check_positive_int(num_train_examples, "num_train_examples")
    layers = _require_layers(model)
    for layer in layers:
        layer.set_num_train_examples(int(num_train_examples))
    return layers


def set_kl_weight(model, kl_weight):
    """Sets beta, the weight of the KL term, on every variational layer.

    Args:
        model: a Keras model containing variational layers.
        kl_weight: finite number >= 0 (1 gives the true ELBO).

    Returns:
        The list of variational layers that were updated.
    """
    check_finite_number(kl_weight, "kl_weight", minimum=0)
    layers = _require_layers(model)
    for layer in layers:
        layer.set_kl_weight(kl_weight)
    return layers


def read_kl_log(model, reset=True):
    """The mean `sum_layers(KL) / N` of the training passes since a reset.

    Every variational layer adds its `KL / N` and a count of one to its
    `kl_log_variable()` in each training pass (on every backend, JAX's
    stateless train step included). This reads all of them with one
    transfer to the host and, with `reset`, sets them back to zeros.
    `KLAnnealing` writes the result into the logs as `kl`.

    Args:
        model: a built Keras model containing variational layers.
        reset: set the layers' logs back to zeros after reading.

    Returns:
        A float, or None when no training pass ran since the last reset.
    """
    variables = [layer.kl_log_variable() for layer in _require_layers(model)]
    values = ops.convert_to_numpy(ops.stack([v.value for v in variables]))
    if reset:
        for variable in variables:
            variable.assign(np.zeros((2,), "float32"))
    # Every layer counts the same passes; a layer the model skipped counts 0.
    passes = values[:, 1]
    if not np.any(passes > 0):
        return None
    means = np.divide(
        values[:, 0], passes, out=np.zeros_like(passes), where=passes > 0
    )
    return float(np.sum(means))


__all__ = [
    "read_kl_log",
    "set_kl_weight",
    "set_num_train_examples",
    "variational_layers",
]
