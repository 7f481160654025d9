"""`KLSchedule`: the base class of the KL-weight (beta) schedules."""

import math

from keras_svd.validation import is_number

BY_VALUES = ("epoch", "step")


def validate_beta(value, name="beta"):
    """Returns `value` as a Python float after checking 0 <= value <= 1.

    Args:
        value: the candidate KL weight.
        name: the argument's name, used in the error message.

    Raises:
        ValueError: when `value` is not a finite number in [0, 1].
    """
    if not is_number(value):
        # A 0-d array or tensor (what a callable built on NumPy or keras.ops
        # returns) counts as a number; strings and bools do not.
        if getattr(value, "ndim", None) != 0 or isinstance(value, (str, bool)):
            raise ValueError(
                f"{name} must be a number between 0 and 1. "
                f"Received: {name}={value!r}"
            )
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must be a number between 0 and 1. "
                f"Received: {name}={value!r}"
            ) from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{name} must be a finite number between 0 and 1. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def validate_by(by):
    """Checks that `by` is "epoch" or "step"."""
    if by not in BY_VALUES:
        raise ValueError(
            f'by must be "epoch" or "step". Received: by={by!r}'
        )
    return by


class KLSchedule:
    """Base class of the schedules of beta, the weight of the KL term.

    Sparse Variational Dropout (Molchanov et al., ICML 2017) trains with the
    objective `mean NLL + beta * sum_layers(KL) / N` and raises beta from 0
    to 1 during the first epochs, so that the network first fits the data
    and only then starts pruning. A schedule is a small, validated,
    serializable function that gives beta for an epoch (or an optimizer
    step); `keras_svd.callbacks.KLAnnealing` applies it to a model.

    Subclasses set `by` ("epoch" or "step"), implement `__call__` and
    `get_config` (exactly the constructor arguments), and are registered
    with `@keras.saving.register_keras_serializable(package="keras_svd")`.

    Attributes:
        by: "epoch" when beta depends on the epoch index (applied before
            each epoch), "step" when it depends on the optimizer's iteration
            count (applied before each batch).

    Example:

    ```python
    @keras.saving.register_keras_serializable(package="my_package")
    class Halving(keras_svd.schedules.KLSchedule):
        def __call__(self, epoch, step=None):
            return 1.0 - 0.5 ** epoch

        def get_config(self):
            return {}
    ```
    """

    by = "epoch"

    def __call__(self, epoch, step=None):
        """Returns beta, a Python float in [0, 1].

        Args:
            epoch: the index of the epoch, from 0.
            step: the number of optimizer updates made before the current
                batch (`model.optimizer.iterations`); required when
                `by == "step"`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__call__(epoch, step)`."
        )

    def get_config(self):
        """Returns the constructor arguments of the schedule (a dict)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `get_config()`."
        )

    @classmethod
    def from_config(cls, config):
        """Creates a schedule from the output of `get_config`."""
        return cls(**config)

    def _position(self, epoch, step):
        """The epoch or the step, whichever the schedule is a function of."""
        if self.by == "epoch":
            value, name = epoch, "epoch"
        else:
            value, name = step, "step"
        if value is None and name == "step":
            raise ValueError(
                f'{type(self).__name__}(by="step") needs the optimizer '
                f"step. Received: step={step!r}"
            )
        if not is_number(value) or value < 0:
            raise ValueError(
                f"{name} must be a number >= 0. Received: {name}={value!r}"
            )
        return value

    def __repr__(self):
        arguments = ", ".join(
            f"{key}={value!r}" for key, value in self.get_config().items()
        )
        return f"{type(self).__name__}({arguments})"


__all__ = ["KLSchedule"]
