"""Model-to-model copies with some layers replaced: the shared clone step.

`keras_svd.strip_variational` (variational layers to plain ones) and
`keras_svd.to_variational` (plain layers to variational ones) are both
`keras.models.clone_model` with a `clone_function` that replaces some
layers and copies every other one with its weights. This module is that
step, written once.
"""

import keras


def clone_replacing(model, replace, caller):
    """A copy of `model` with the layers that `replace` picks replaced.

    Args:
        model: a built functional or `Sequential` model (nested ones too).
        replace: `replace(layer)` returns the new layer for `layer`, or None
            to copy `layer` (its class from its config, with its weights).
        caller: the public function's name, for the error message.

    Returns:
        `(copy, replaced)`: the new, uncompiled model, and the list of
        `(old_layer, new_layer)` pairs that `replace` produced, in the order
        the layers were cloned. The copy shares no variables with `model`;
        `model` is left unchanged.

    Raises:
        ValueError: when Keras cannot clone `model` (a subclassed model).
    """
    copied = []
    replaced = []

    def clone(layer):
        new = replace(layer)
        if new is None:
            new = layer.__class__.from_config(layer.get_config())
            copied.append((layer, new))
        else:
            replaced.append((layer, new))
        return new

    try:
        copy = keras.models.clone_model(
            model, clone_function=clone, recursive=True
        )
    except (NotImplementedError, TypeError, ValueError) as error:
        raise ValueError(
            f"{caller} could not clone model {model.name!r} "
            f"({type(model).__name__}). Keras clones functional and "
            "Sequential models (nested ones included), not subclassed ones. "
            f"Keras said: {error}"
        ) from error
    for old, new in copied:
        if not isinstance(old, keras.Model):
            new.set_weights(old.get_weights())
    return uncompiled(copy), replaced


def check_built_model(model, caller):
    """Raises a `ValueError` naming `model` unless it is a built Model."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"{caller} expects a keras.Model. Received: model={model!r}"
        )
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built: call it on data or build "
            f"it before passing it to {caller}. Received: model={model!r}"
        )


def uncompiled(model):
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


__all__ = ["check_built_model", "clone_replacing", "uncompiled"]
