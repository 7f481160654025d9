"""From a pretrained model: plain Dense / Conv2D layers made variational."""

import inspect
import warnings

import keras
import numpy as np

from keras_svd.layers.variational_conv2d import VariationalConv2D
from keras_svd.layers.variational_dense import VariationalDense
from keras_svd.model_cloning import check_built_model
from keras_svd.model_cloning import clone_replacing
from keras_svd.model_utils import all_layers
from keras_svd.validation import check_bool
from keras_svd.validation import check_finite_number

# The plain layer classes this converts, and what each becomes. Exact
# classes only: a subclass of Dense may compute something else.
VARIATIONAL_COUNTERPARTS = {
    keras.layers.Dense: VariationalDense,
    keras.layers.Conv2D: VariationalConv2D,
}


def to_variational(
    model,
    log_sigma2_init=-10.0,
    layers=None,
    threshold=3.0,
    train_clip=False,
):
    """Returns a copy of `model` with its Dense and Conv2D layers variational.

    The way the paper's VGG-like networks (and the authors' LeNet-5 option)
    start: from a trained network. Each selected `keras.layers.Dense`
    becomes a `keras_svd.layers.VariationalDense` and each
    `keras.layers.Conv2D` a `VariationalConv2D`, with the same
    configuration and name, theta = the trained kernel, the trained bias, and
    log sigma^2 = `log_sigma2_init` for every weight. Every other layer is
    copied with its weights. Nested models are converted too; `model` itself
    is never changed. The copy is uncompiled: compile it with your loss, call
    `keras_svd.set_num_train_examples` and fine-tune it with
    `keras_svd.callbacks.KLAnnealing` to sparsify it.

    The deterministic predictions are unchanged at conversion, except for
    the weights so small that their log alpha = log sigma^2 - log(theta^2 +
    1e-8) already starts at or above `threshold`: those start pruned. With
    the defaults (-10 and 3) that is every |theta| below about 1.5e-3,
    usually a few per thousand of a trained network's weights, whose share
    of the outputs is as small. When any weight starts pruned a
    `UserWarning` says how many, per layer; `keras_svd.measure_sparsity`
    of the copy gives the same counts. A lower `log_sigma2_init` keeps more
    of them.

    Args:
        model: a built functional or `Sequential` model.
        log_sigma2_init: float, the initial log sigma^2 of every converted
            weight (default -10, the layers' default).
        layers: which layers to convert: None (every Dense and Conv2D), a
            list (or tuple or set) of layer names, or a predicate
            `fn(layer) -> bool` called on every Dense and Conv2D layer.
            Named layers must exist and be Dense or Conv2D.
        threshold: float, the pruning threshold on log alpha of the new
            layers (default 3).
        train_clip: bool, the new layers' `train_clip` (the paper's
            recipe uses True).

    Returns:
        A new, uncompiled `keras.Model`.

    Raises:
        ValueError: when `model` is not a built functional or `Sequential`
            model or has no layer to convert, when `layers` names a layer
            that does not exist or is not Dense or Conv2D, or is neither a
            collection of names nor callable, or when a selected layer uses
            a Keras feature the variational layers lack (quantization, LoRA).

    Example:

    ```python
    dense = keras_svd.models.lenet_300_100(variational=False)
    dense.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    dense.fit(x_train, y_train, epochs=5)
    model = keras_svd.to_variational(dense, train_clip=True)
    keras_svd.set_num_train_examples(model, len(x_train))
    model.compile(keras.optimizers.Adam(1e-4),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=10,
              callbacks=[keras_svd.callbacks.KLAnnealing(
                  keras_svd.schedules.LinearWarmup(0, 5))])
    ```
    """
    check_built_model(model, "to_variational")
    log_sigma2_init = check_finite_number(log_sigma2_init, "log_sigma2_init")
    threshold = check_finite_number(threshold, "threshold")
    train_clip = check_bool(train_clip, "train_clip")
    selected = _selector(model, layers)
    options = {
        "log_sigma2_init": log_sigma2_init,
        "threshold": threshold,
        "train_clip": train_clip,
    }

    def replace(layer):
        if type(layer) in VARIATIONAL_COUNTERPARTS and selected(layer):
            return _variational_layer(layer, options)
        return None

    converted, pairs = clone_replacing(model, replace, "to_variational")
    if not pairs:
        raise ValueError(
            f"to_variational found no layer to convert in model "
            f"{model.name!r}: it converts keras.layers.Dense and "
            "keras.layers.Conv2D layers (selected by `layers`). "
            f"Received: model={model.name!r}, layers={layers!r}"
        )
    born_pruned = []
    for old, new in pairs:
        new.kernel.assign(keras.ops.convert_to_numpy(old.kernel))
        new.log_sigma2.assign(
            np.full(tuple(new.log_sigma2.shape), log_sigma2_init, "float32")
        )
        if old.use_bias:
            new.bias.assign(keras.ops.convert_to_numpy(old.bias))
        kept = keras.ops.convert_to_numpy(new.pruning_mask())
        if not kept.all():
            born_pruned.append((new.name, int(kept.size - kept.sum()), kept.size))
    if born_pruned:
        counts = ", ".join(
            f"{name}: {n:,} of {size:,}" for name, n, size in born_pruned
        )
        warnings.warn(
            "to_variational: some trained weights are so small that their "
            f"log alpha starts at or above threshold={threshold} with "
            f"log_sigma2_init={log_sigma2_init}, so they start pruned and "
            f"the deterministic outputs change by their share ({counts}). "
            "A lower log_sigma2_init keeps them.",
            UserWarning,
            stacklevel=2,
        )
    return converted


def _selector(model, layers):
    """The predicate for `layers`, after checking the names it gives."""
    if layers is None:
        return lambda layer: True
    if callable(layers):
        return lambda layer: bool(layers(layer))
    if isinstance(layers, str) or not isinstance(
        layers, (list, tuple, set, frozenset)
    ):
        raise ValueError(
            "layers must be None, a list of layer names or a callable "
            f"`fn(layer) -> bool`. Received: layers={layers!r}"
        )
    by_name = {layer.name: layer for layer in all_layers(model)}
    unknown = [name for name in layers if name not in by_name]
    if unknown:
        raise ValueError(
            f"layers names layers that model {model.name!r} does not have: "
            f"{unknown}. Its layers: {sorted(by_name)}. "
            f"Received: layers={layers!r}"
        )
    wrong = [
        f"{name} ({type(by_name[name]).__name__})"
        for name in layers
        if type(by_name[name]) not in VARIATIONAL_COUNTERPARTS
    ]
    if wrong:
        raise ValueError(
            "layers names layers that are not keras.layers.Dense or "
            f"keras.layers.Conv2D: {', '.join(wrong)}. "
            f"Received: layers={layers!r}"
        )
    names = frozenset(layers)
    return lambda layer: layer.name in names


def _variational_layer(layer, options):
    """The variational counterpart of `layer`, from its config."""
    if getattr(layer, "quantization_mode", None) is not None or getattr(
        layer, "lora_enabled", False
    ):
        raise ValueError(
            f"to_variational cannot convert layer {layer.name!r}: it is "
            "quantized or has LoRA enabled, which the variational layers do "
            f"not support. Received: layers selecting {layer.name!r}"
        )
    counterpart = VARIATIONAL_COUNTERPARTS[type(layer)]
    accepted = set(inspect.signature(counterpart.__init__).parameters)
    accepted |= {"name", "trainable", "dtype"}
    config = {
        key: value
        for key, value in layer.get_config().items()
        if key in accepted
    }
    return counterpart(**config, **options)


__all__ = ["VARIATIONAL_COUNTERPARTS", "to_variational"]
