"""Schedules of beta, the weight of the KL term of Sparse Variational Dropout.

Each schedule is a small, validated, serializable function of the epoch (or
of the optimizer step) returning beta in [0, 1];
`keras_svd.callbacks.KLAnnealing` applies one to a model during `fit`.
"""

import keras

from keras_svd.schedules.constant import Constant
from keras_svd.schedules.function_schedule import FunctionSchedule
from keras_svd.schedules.kl_schedule import KLSchedule
from keras_svd.schedules.kl_schedule import is_number
from keras_svd.schedules.linear_warmup import LinearWarmup
from keras_svd.schedules.paper_warmup import PaperWarmup

_BUILT_IN = {
    cls.__name__: cls
    for cls in (Constant, FunctionSchedule, LinearWarmup, PaperWarmup)
}


def serialize(schedule):
    """Returns the Keras serialization dict of a `KLSchedule`.

    Example:

    ```python
    config = keras_svd.schedules.serialize(keras_svd.schedules.PaperWarmup())
    schedule = keras_svd.schedules.deserialize(config)
    ```
    """
    if not isinstance(schedule, KLSchedule):
        raise ValueError(
            "schedule must be a keras_svd.schedules.KLSchedule. "
            f"Received: schedule={schedule!r}"
        )
    return keras.saving.serialize_keras_object(schedule)


def deserialize(config, custom_objects=None):
    """Creates a `KLSchedule` from the output of `serialize`.

    Also accepts the short form `{"class_name": "LinearWarmup", "config":
    {...}}` for the built-in schedules.

    Args:
        config: a dict from `serialize` (or
            `keras.saving.serialize_keras_object`).
        custom_objects: optional dict of names to user schedule classes.

    Raises:
        ValueError: naming `config` when it does not describe a
            `KLSchedule` (an unknown class, bad arguments).
    """
    return _deserialize(config, custom_objects, "config")


def _deserialize(config, custom_objects, name):
    """`deserialize`, with errors naming the argument `name`."""
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise ValueError(
            "custom_objects must be None or a dict of names to classes. "
            f"Received: custom_objects={custom_objects!r}"
        )
    objects = dict(_BUILT_IN)
    objects.update(custom_objects or {})
    try:
        schedule = keras.saving.deserialize_keras_object(
            config, custom_objects=objects
        )
    except (TypeError, ValueError) as e:
        # Keras raises a TypeError for an unknown class name.
        raise ValueError(
            f"{name} does not describe a keras_svd.schedules.KLSchedule: "
            f"{e} Received: {name}={config!r}"
        ) from e
    if not isinstance(schedule, KLSchedule):
        raise ValueError(
            f"{name} does not describe a keras_svd.schedules.KLSchedule. "
            f"Received: {name}={config!r}"
        )
    return schedule


def get(identifier):
    """Turns an identifier into a `KLSchedule`.

    Args:
        identifier: a `KLSchedule` (returned as is); a number in [0, 1]
            (a `Constant`); a dict from `serialize`; or a plain callable
            `epoch -> beta` (wrapped in a `FunctionSchedule`).

    Returns:
        A `KLSchedule`.

    Raises:
        ValueError: when the identifier cannot be interpreted or a number is
            outside [0, 1].

    Example:

    ```python
    keras_svd.schedules.get(0.5)                  # Constant(value=0.5)
    keras_svd.schedules.get(lambda e: min(e / 10, 1.0))
    ```
    """
    if isinstance(identifier, KLSchedule):
        return identifier
    if isinstance(identifier, dict):
        return _deserialize(identifier, None, "identifier")
    if is_number(identifier):
        return Constant(identifier)
    if callable(identifier):
        return FunctionSchedule(identifier)
    raise ValueError(
        "Could not interpret the KL schedule identifier: expected a "
        "KLSchedule, a number in [0, 1], a serialized schedule (dict) or a "
        f"callable epoch -> beta. Received: identifier={identifier!r}"
    )


__all__ = [
    "Constant",
    "FunctionSchedule",
    "KLSchedule",
    "LinearWarmup",
    "PaperWarmup",
    "deserialize",
    "get",
    "serialize",
]
