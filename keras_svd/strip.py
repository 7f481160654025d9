"""The export step: a trained variational model as a plain Keras model."""

import keras

from keras_svd.layers.perma_dropout import PermaDropout
from keras_svd.model_cloning import check_built_model
from keras_svd.model_cloning import clone_replacing

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
    check_built_model(model, "strip_variational")

    def replace(layer):
        if _converts(layer):
            return layer.deterministic_layer()
        if perma_dropout == "identity" and isinstance(layer, PermaDropout):
            return keras.layers.Identity(
                name=layer.name, dtype=layer.dtype_policy.name
            )
        return None

    stripped, _ = clone_replacing(model, replace, "strip_variational")
    return stripped


__all__ = ["strip_variational"]
