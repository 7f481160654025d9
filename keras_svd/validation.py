"""Argument checks shared by the package: one wording for every ValueError.

Each check raises `ValueError` naming the argument and ending with
`Received: name=value`, as Keras does (`TypeError` for a path that is not
one, as `open` does).
"""

import math
import numbers
import os

import numpy as np


def is_number(value):
    """True for a real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_integer(value):
    """True for an integer that is not a bool (NumPy integers included)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(value, name, allow_none=False):
    """Returns `value` as an int after checking it is a positive integer.

    Args:
        value: the candidate.
        name: the argument's name, used in the message.
        allow_none: accept (and return) `None`.
    """
    if value is None and allow_none:
        return None
    if not is_integer(value) or value < 1:
        expected = "None or a positive integer" if allow_none else (
            "a positive integer"
        )
        raise ValueError(
            f"{name} must be {expected}. Received: {name}={value!r}"
        )
    return int(value)


def check_bool(value, name):
    """Returns `value` as a bool after checking it is True or False.

    NumPy booleans are accepted (and converted) as well.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"{name} must be True or False. Received: {name}={value!r}"
        )
    return bool(value)


def check_verbose(value):
    """Checks a callback's `verbose`: 0, 1 or 2 (not a bool)."""
    if value not in (0, 1, 2) or isinstance(value, bool):
        raise ValueError(
            f"verbose must be 0, 1 or 2. Received: verbose={value!r}"
        )


def check_finite_number(value, name, minimum=None):
    """Returns `value` as a float after checking it is finite (>= minimum)."""
    if (
        not is_number(value)
        or not math.isfinite(value)
        or (minimum is not None and value < minimum)
    ):
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise ValueError(
            f"{name} must be a finite number{bound}. Received: {name}={value!r}"
        )
    return float(value)


def check_rate(value, name):
    """Returns `value` as a float after checking it is a rate in [0, 1)."""
    if not is_number(value) or not math.isfinite(value) or not 0 <= value < 1:
        raise ValueError(
            f"{name} must be in [0, 1). Received: {name}={value!r}"
        )
    return float(value)


def check_seed(value, name="seed"):
    """Returns `value` (None or an int) after checking it is a seed."""
    if value is None:
        return None
    if not is_integer(value):
        raise ValueError(
            f"{name} must be None or an integer. Received: {name}={value!r}"
        )
    return int(value)


def check_path(value, name, allow_none=False):
    """Returns `os.fspath(value)` after checking it is a path.

    Raises:
        TypeError: naming `name`, when `value` is not a `str` or
            `os.PathLike` (nor `None` with `allow_none`).
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, (str, os.PathLike)):
        expected = "None, a str or an os.PathLike" if allow_none else (
            "a str or an os.PathLike"
        )
        raise TypeError(
            f"{name} must be {expected}. Received: {name}={value!r}"
        )
    return os.fspath(value)


def get_identifier(module, value, name):
    """`module.get(value)`, with a `ValueError` that names the argument.

    Args:
        module: `keras.activations`, `keras.initializers`,
            `keras.regularizers` or `keras.constraints`.
        value: the identifier (a name, a config dict, an instance, None).
        name: the argument's name, used in the message.
    """
    try:
        return module.get(value)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"Could not interpret {name}: {e} Received: {name}={value!r}"
        ) from e


def check_num_train_examples(value, allow_none=False):
    """Checks N, the number of training examples of the KL term (>= 1)."""
    return check_positive_int(value, "num_train_examples", allow_none)


def check_kl_weight(value):
    """Checks beta, the weight of the KL term (finite, >= 0); a float."""
    return check_finite_number(value, "kl_weight", minimum=0)
