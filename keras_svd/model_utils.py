"""Model-level utilities over the variational-layer protocol.

Every function finds layers through `keras_svd.layers.VariationalProtocol`
(see `keras_svd.layers.is_variational`) and recurses into nested models and
wrappers, so none of them depends on the concrete layer classes.
"""

import warnings

import keras
import numpy as np
from keras import ops

from keras_svd.layers.variational_protocol import is_variational
from keras_svd.validation import check_bool
from keras_svd.validation import check_kl_weight
from keras_svd.validation import check_num_train_examples


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
        ValueError: when `model` is not a Keras layer or model, or for a
            layer that implements part of the protocol (`log_alpha`,
            `kl_divergence` or `pruning_mask`) but not all of it; the
            message names the missing members.

    Example:

    ```python
    for layer in keras_svd.variational_layers(model):
        print(layer.name, layer.threshold)
    ```
    """
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(
            "model must be a Keras model or layer. "
            f"Received: model={model!r:.100}"
        )
    return [
        layer
        for layer in all_layers(model)
        if is_variational(layer, strict=True)
    ]


def all_layers(model):
    """`model` and every layer inside it (nested models, wrapped layers).

    Args:
        model: a Keras model or layer.

    Returns:
        A list in the model's order, depth first, each layer once.
    """
    found = []
    seen = set()

    def visit(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        found.append(layer)
        for child in _children(layer):
            visit(child)

    visit(model)
    return found


def require_variational_layers(model):
    """The variational layers of `model` (or a list of them), never none.

    Args:
        model: a Keras model or layer, or a list of variational layers.

    Returns:
        A non-empty list of layers implementing the protocol.

    Raises:
        ValueError: when there is no variational layer, or a listed layer
            does not implement the protocol.
    """
    if isinstance(model, (list, tuple)):
        layers = list(model)
        for layer in layers:
            if not is_variational(layer, strict=True):
                raise ValueError(
                    "Every layer must implement "
                    "keras_svd.layers.VariationalProtocol. "
                    f"Received: layer={layer!r}"
                )
    else:
        layers = variational_layers(model)
    if not layers:
        raise ValueError(
            "The model has no variational layer (VariationalDense, "
            f"VariationalConv2D, ...). Received: model={model!r}"
        )
    return layers


def require_built(layers, model):
    """Raises a `ValueError` naming `model` when a layer is not built.

    Args:
        layers: the variational layers of `model`.
        model: what the user passed (named in the message).
    """
    unbuilt = [layer.name for layer in layers if not layer.built]
    if unbuilt:
        raise ValueError(
            f"The variational layers {', '.join(unbuilt)} are not built, so "
            "the model is not built yet and they have no weights: give it a "
            "`keras.Input` or call it on a batch first. Received: "
            f"model={getattr(model, 'name', model)!r}"
        )


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
    check_num_train_examples(num_train_examples)
    layers = require_variational_layers(model)
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
    check_kl_weight(kl_weight)
    layers = require_variational_layers(model)
    for layer in layers:
        layer.set_kl_weight(kl_weight)
    return layers


def read_kl_log(model, reset=True):
    """The KL terms of the training passes since the last reset.

    Every variational layer adds its `KL / N`, its loss term
    `beta * KL / N` and a count of one to its `kl_log_variable()` in each
    training pass (on every backend, JAX's stateless train step included).
    This reads all of them with one transfer to the host and, with `reset`,
    sets them back to zeros. `KLAnnealing` writes the result into the logs.

    Args:
        model: a built Keras model containing variational layers.
        reset: set the layers' logs back to zeros after reading (a bool).

    Returns:
        None when no training pass ran since the last reset, else a dict:
        `kl`, the mean over the passes of `sum_layers(KL) / N` (the KL term
        before beta), and `kl_loss`, the mean of `sum_layers(beta * KL / N)`
        (what the KL added to the loss).
    """
    reset = check_bool(reset, "reset")
    layers = require_variational_layers(model)
    require_built(layers, model)
    variables = [layer.kl_log_variable() for layer in layers]
    values = ops.convert_to_numpy(ops.stack([v.value for v in variables]))
    if reset:
        for variable in variables:
            variable.assign(np.zeros(variable.shape, "float32"))
    passes = values[:, 2]
    if not np.any(passes > 0):
        return None
    # A layer the model did not run in some passes counts fewer of them.
    seen = passes > 0
    means = values[seen, :2] / passes[seen, None]
    kl, kl_loss = np.sum(means, axis=0)
    return {"kl": float(kl), "kl_loss": float(kl_loss)}


def kl_inactive_reason(model):
    """Why the KL term of `model` did nothing in training, or None.

    Args:
        model: a Keras model containing variational layers.

    Returns:
        A sentence for the user when a layer has no N (its KL is left out
        of the loss) or every layer's beta is 0, else None.
    """
    layers = require_variational_layers(model)
    without_n = [
        layer.name
        for layer in layers
        if getattr(layer, "num_train_examples", 0) is None
    ]
    if without_n:
        return (
            f"{', '.join(without_n)} trained without N, the number of "
            "training examples, so their KL term was left out of the loss "
            "and nothing was sparsified. Call "
            "keras_svd.set_num_train_examples(model, len(x_train)) before "
            "fit."
        )
    betas = [float(getattr(layer, "kl_weight", 1.0)) for layer in layers]
    if max(betas) == 0.0:
        return (
            "The KL weight beta was still 0 when fit ended, so the KL term "
            "never entered the loss and nothing was sparsified (compression "
            "stays near 1x). A warm-up schedule keeps beta at 0 for its first "
            "epochs (PaperWarmup: 5, then a ramp to 1 at epoch 20): train "
            "for more epochs, or choose a shorter warm-up, e.g. "
            "keras_svd.schedules.LinearWarmup(0, epochs - 1)."
        )
    return None


def run_id(model):
    """Tells one `fit` call of `model` from the next (its optimizer step)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    return int(ops.convert_to_numpy(optimizer.iterations))


def warn_if_kl_inactive(model, run_id):
    """Warns once per `run_id` (e.g. a `fit` call) with `kl_inactive_reason`.

    `KLAnnealing` and `SparsityMonitor` both call this at the end of `fit`;
    the first one warns, the second finds the same run and stays quiet.
    """
    if getattr(model, "_keras_svd_kl_checked", None) == run_id:
        return
    model._keras_svd_kl_checked = run_id
    reason = kl_inactive_reason(model)
    if reason is not None:
        warnings.warn(reason, UserWarning, stacklevel=3)


__all__ = [
    "all_layers",
    "kl_inactive_reason",
    "read_kl_log",
    "require_built",
    "require_variational_layers",
    "set_kl_weight",
    "set_num_train_examples",
    "variational_layers",
]
