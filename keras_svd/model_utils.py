"""Model-level utilities over the variational-layer protocol.

Every function finds layers through `keras_svd.layers.is_variational` (the
protocol: `log_alpha()`, `kl_divergence()`, `pruning_mask()`, `threshold`) and
recurses into nested models and wrappers, so none of them depends on the
concrete layer classes.
"""

import numpy as np
from keras import ops

from keras_svd.layers.kl_tracker import KLGroup
from keras_svd.layers.variational_layer import _validate_kl_weight
from keras_svd.layers.variational_layer import _validate_num_train_examples
from keras_svd.layers.variational_layer import is_variational


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
        if is_variational(layer):
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
    once before `fit` with the size of the training set. It also makes the
    `kl` entry of the logs report the total of the model's layers.

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
    _validate_num_train_examples(num_train_examples)
    layers = _require_layers(model)
    group = KLGroup()
    for layer in layers:
        layer.set_num_train_examples(int(num_train_examples))
        tracker = getattr(layer, "kl_tracker", None)
        if tracker is not None:
            tracker.join(group)
    # A step traced before the layers were grouped logs no `kl`: retrace.
    for attribute in ("train_function", "test_function"):
        if getattr(model, attribute, None) is not None:
            setattr(model, attribute, None)
    return layers


def set_kl_weight(model, kl_weight):
    """Sets beta, the weight of the KL term, on every variational layer.

    Args:
        model: a Keras model containing variational layers.
        kl_weight: finite number >= 0 (1 gives the true ELBO).

    Returns:
        The list of variational layers that were updated.
    """
    _validate_kl_weight(kl_weight)
    layers = _require_layers(model)
    for layer in layers:
        layer.set_kl_weight(kl_weight)
    return layers


def sparsity_report(model):
    """Per-layer counts of kept and pruned kernel weights.

    A weight is pruned when its log alpha is at or above the layer's
    `threshold`. Only kernels count, as in the paper's tables.

    Args:
        model: a Keras model containing variational layers.

    Returns:
        A list of dicts, one per variational layer, with keys `layer` (name),
        `weights` (kernel size), `kept` (weights kept) and `sparsity` (the
        fraction pruned, in [0, 1]).

    Example:

    ```python
    for row in keras_svd.sparsity_report(model):
        print(f"{row['layer']}: {100 * row['sparsity']:.1f}% pruned")
    ```
    """
    rows = []
    layers = _require_layers(model)
    # Integer counts (a float32 sum is inexact past 2^24 weights), computed
    # on the device and brought to the host once.
    kept_counts = [
        ops.sum(ops.cast(layer.pruning_mask(), "int32")) for layer in layers
    ]
    kept_counts = ops.convert_to_numpy(ops.stack(kept_counts))
    for layer, kept in zip(layers, kept_counts):
        weights = int(np.prod(layer.log_alpha().shape))
        kept = int(kept)
        rows.append(
            {
                "layer": layer.name,
                "weights": weights,
                "kept": kept,
                "sparsity": 1.0 - kept / weights,
            }
        )
    return rows


def compression_ratio(model):
    """All kernel weights divided by the kept ones (biases excluded).

    Args:
        model: a Keras model containing variational layers.

    Returns:
        A float >= 1; `inf` when every weight is pruned.
    """
    rows = sparsity_report(model)
    total = sum(row["weights"] for row in rows)
    kept = sum(row["kept"] for row in rows)
    return float("inf") if kept == 0 else total / kept
