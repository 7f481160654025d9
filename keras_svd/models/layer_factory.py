"""Chooses plain or variational Dense / Conv2D layers for the model zoo."""

import keras

from keras_svd.layers.variational_conv2d import VariationalConv2D
from keras_svd.layers.variational_dense import VariationalDense
from keras_svd.validation import check_bool
from keras_svd.validation import is_integer


def check_positive_ints(values, length, name):
    """Returns `values` as a tuple of `length` positive Python ints.

    Raises:
        ValueError: naming `name` when `values` is not a sequence of
            `length` positive integers.
    """
    if (
        not isinstance(values, (list, tuple))
        or len(values) != length
        or not all(is_integer(v) and v > 0 for v in values)
    ):
        raise ValueError(
            f"{name} must be {length} positive integer(s). "
            f"Received: {name}={values!r}"
        )
    return tuple(int(v) for v in values)


def check_input_shape(input_shape, rank=None):
    """Returns `input_shape` as a tuple of positive Python ints.

    Args:
        input_shape: the shape of one example, without the batch axis.
        rank: the number of axes it must have (None: any, at least one).

    Raises:
        ValueError: naming `input_shape` when it is not a sequence of
            positive integers (of length `rank`).
    """
    if (
        not isinstance(input_shape, (list, tuple))
        or not input_shape
        or (rank is not None and len(input_shape) != rank)
        or not all(is_integer(v) and v > 0 for v in input_shape)
    ):
        expected = "" if rank is None else f"{rank} "
        raise ValueError(
            f"input_shape must be a tuple of {expected}positive integers "
            f"(one example's shape, without the batch axis). "
            f"Received: input_shape={input_shape!r}"
        )
    return tuple(int(v) for v in input_shape)


def unique_names(names):
    """`names` with `_1`, `_2`, ... appended to those that repeat."""
    return [
        f"{name}_{i + 1}" if names.count(name) > 1 else name
        for i, name in enumerate(names)
    ]


class LayerFactory:
    """Makes the Dense and Conv2D layers of one model.

    Args:
        variational: `True` for `VariationalDense` / `VariationalConv2D`,
            `False` for `keras.layers.Dense` / `keras.layers.Conv2D`.
        variational_kwargs: extra arguments of the variational layers
            (`threshold`, `train_clip`, `num_train_examples`, ...); ignored
            for plain layers.
    """

    def __init__(self, variational, variational_kwargs=None):
        variational = check_bool(variational, "variational")
        self.variational = variational
        self.variational_kwargs = dict(variational_kwargs or {})

    def dense(self, units, **kwargs):
        if self.variational:
            return VariationalDense(units, **self.variational_kwargs, **kwargs)
        return keras.layers.Dense(units, **kwargs)

    def conv2d(self, filters, kernel_size, **kwargs):
        if self.variational:
            return VariationalConv2D(
                filters, kernel_size, **self.variational_kwargs, **kwargs
            )
        return keras.layers.Conv2D(filters, kernel_size, **kwargs)
