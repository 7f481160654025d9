"""The export step: a trained variational model as a plain Keras model."""

import keras

from keras_svd.layers.perma_dropout import PermaDropout

PERMA_DROPOUT_MODES = ("keep", "identity")


def _converts(layer):
    return callable(getattr(layer, "deterministic_layer", None))


def strip_variational(model, perma_dropout="keep"):
    """Returns a copy of `model` with every variational layer made plain.

    Each layer with a `deterministic_layer()` method (`VariationalDense`,
    `VariationalConv2D`) becomes the layer it replaces (`Dense`, `Conv2D`)
    with the pruned kernel `kernel * pruning_mask()` and the same bias and
    name, so the copy computes exactly the variational model's
    deterministic inference output, at the cost of the plain layers: no log
    sigma^2 to store, no mask to compute per call, no KL. Every other layer
    is cloned with a copy of its weights (the copy shares no variables with
    `model`). Nested models are converted too. `model` itself is left
    unchanged (weights, config and compile state).

    Like `tfmot.sparsity.keras.strip_pruning`, the result is uncompiled,
    even when `model` is compiled: saving it stores no optimizer state
    (Adam's two slots per weight would triple the `.keras` file).

    `PermaDropout` stays by default (`perma_dropout="keep"`), since it is
    meant to sample at inference (Monte-Carlo prediction, SavedModel
    export). With `perma_dropout="identity"` each one becomes a
    `keras.layers.Identity` of the same name: a deterministic model, whose
    outputs are the variational model's deterministic ones with the dropout
    left out (its expectation, since kept units are rescaled), and which
    `tf.lite.TFLiteConverter` converts (the random ops of dropout are not
    TFLite ops).

    Pruned weights are stored as zeros: the dense format saves no memory by
    itself, but the kernels compress well (`.keras` files are zip archives)
    and can be moved to a sparse format.

    Args:
        model: a built functional or `Sequential` Keras model. Subclassed
            models cannot be cloned by Keras and raise a `ValueError`.
        perma_dropout: `"keep"` (default) keeps each `PermaDropout`
            stochastic; `"identity"` replaces it by `keras.layers.Identity`.

    Returns:
        A new, uncompiled `keras.Model`.

    Example:

    ```python
    model.fit(x, y, epochs=200, callbacks=[keras_svd.callbacks.KLAnnealing()])
    deployed = keras_svd.strip_variational(model)
    deployed.save("lenet_pruned.keras")  # Plain Keras layers only.
    # Deterministic, for TFLite:
    tflite_ready = keras_svd.strip_variational(model, perma_dropout="identity")
    ```
    """
    if perma_dropout not in PERMA_DROPOUT_MODES:
        raise ValueError(
            "perma_dropout must be one of "
            f"{', '.join(repr(m) for m in PERMA_DROPOUT_MODES)}. "
            f"Received: perma_dropout={perma_dropout!r}"
        )
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
        elif perma_dropout == "identity" and isinstance(layer, PermaDropout):
            new = keras.layers.Identity(
                name=layer.name, dtype=layer.dtype_policy.name
            )
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
    return _uncompiled(stripped)


def _uncompiled(model):
    """`model`, or the same layers in a new uncompiled model.

    `keras.models.clone_model` compiles the copy like the original; a new
    `Sequential` or functional `Model` on the same (already built) layers
    drops the optimizer and the compile configuration.
    """
    if not model.compiled:
        return model
    if isinstance(model, keras.Sequential):
        inputs = model.inputs[0]
        return keras.Sequential(
            [
                keras.Input(batch_shape=inputs.shape, dtype=inputs.dtype),
                *model.layers,
            ],
            name=model.name,
            trainable=model.trainable,
        )
    return keras.Model(
        model.inputs, model.outputs, name=model.name, trainable=model.trainable
    )


__all__ = ["strip_variational"]
