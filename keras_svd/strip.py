"""The export step: a trained variational model as a plain Keras model."""

import keras


def _converts(layer):
    return callable(getattr(layer, "deterministic_layer", None))


def strip_variational(model):
    """Returns a copy of `model` with every variational layer made plain.

    Each layer with a `deterministic_layer()` method (`VariationalDense`,
    `VariationalConv2D`) becomes the layer it replaces (`Dense`, `Conv2D`)
    with the pruned kernel `kernel * pruning_mask()` and the same bias and
    name, so the copy computes exactly the variational model's
    deterministic inference output, at the cost of the plain layers: no log
    sigma^2 to store, no mask to compute per call, no KL. Every other layer
    is cloned with a copy of its weights (the copy shares no variables with
    `model`); `PermaDropout` stays, since it is meant to sample at
    inference. Nested models are converted too. Like
    `tfmot.sparsity.keras.strip_pruning`, the result is uncompiled.

    Pruned weights are stored as zeros: the dense format saves no memory by
    itself, but the kernels compress well (`.keras` files are zip archives)
    and can be moved to a sparse format.

    Args:
        model: a built functional or `Sequential` Keras model. Subclassed
            models cannot be cloned by Keras and raise a `ValueError`.

    Returns:
        A new, uncompiled `keras.Model`.

    Example:

    ```python
    model.fit(x, y, epochs=200, callbacks=[keras_svd.callbacks.KLAnnealing()])
    deployed = keras_svd.strip_variational(model)
    deployed.save("lenet_pruned.keras")  # Plain Keras layers only.
    ```
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            "strip_variational expects a keras.Model. "
            f"Received: model={model!r}"
        )
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built: call it on data or build "
            "it before stripping it."
        )
    pairs = []

    def clone(layer):
        if _converts(layer):
            new = layer.deterministic_layer()
        else:
            new = layer.__class__.from_config(layer.get_config())
        pairs.append((layer, new))
        return new

    try:
        stripped = keras.models.clone_model(
            model, clone_function=clone, recursive=True
        )
    except (NotImplementedError, TypeError, ValueError) as error:
        raise ValueError(
            f"strip_variational could not clone model {model.name!r} "
            f"({type(model).__name__}). Keras clones functional and "
            "Sequential models (nested ones included), not subclassed ones. "
            f"Keras said: {error}"
        ) from error
    for old, new in pairs:
        if not _converts(old) and not isinstance(old, keras.Model):
            new.set_weights(old.get_weights())
    return stripped


__all__ = ["strip_variational"]
