"""`LinearWarmup`: beta rises linearly between two epochs or steps."""

import keras

from keras_svd.schedules.kl_schedule import KLSchedule
from keras_svd.schedules.kl_schedule import validate_beta
from keras_svd.schedules.kl_schedule import validate_by
from keras_svd.validation import is_integer


def _validate_position(value, name):
    if not is_integer(value) or value < 0:
        raise ValueError(
            f"{name} must be an integer >= 0. Received: {name}={value!r}"
        )
    return int(value)


@keras.saving.register_keras_serializable(package="keras_svd")
class LinearWarmup(KLSchedule):
    """Beta held at `initial` until `start`, linear to `final` at `end`.

    With t the epoch index (`by="epoch"`, from 0) or the number of optimizer
    updates made so far (`by="step"`, `model.optimizer.iterations`):

    ```
    beta(t) = initial                                          if t <= start
            = initial + (final - initial) * (t - start) / (end - start)
                                                          if start < t < end
            = final                                            if t >= end
    ```

    The values at `start` and `end` are exactly `initial` and `final`. The
    warm-up of Sparse Variational Dropout (Molchanov et al., ICML 2017) is
    `LinearWarmup(start=4, end=20)`, available as
    `keras_svd.schedules.PaperWarmup()`. `final < initial` gives a linear
    decay.

    Args:
        start: integer >= 0, the last epoch (or step) at `initial`.
        end: integer > `start`, the first epoch (or step) at `final`.
        initial: beta up to `start`, in [0, 1] (default 0).
        final: beta from `end` on, in [0, 1] (default 1).
        by: "epoch" (beta set before each epoch) or "step" (beta set before
            each batch from the optimizer's iteration count).

    Example:

    ```python
    # beta = 0 for the first 1000 updates, 1 after 6000.
    schedule = keras_svd.schedules.LinearWarmup(1000, 6000, by="step")
    model.fit(x, y, callbacks=[keras_svd.callbacks.KLAnnealing(schedule)])
    ```
    """

    def __init__(self, start, end, initial=0.0, final=1.0, by="epoch"):
        self.start = _validate_position(start, "start")
        self.end = _validate_position(end, "end")
        if self.end <= self.start:
            raise ValueError(
                "end must be greater than start. "
                f"Received: end={end!r} (start={start!r})"
            )
        self.initial = validate_beta(initial, "initial")
        self.final = validate_beta(final, "final")
        self.by = validate_by(by)

    def __call__(self, epoch, step=None):
        t = self._position(epoch, step)
        if t <= self.start:
            return self.initial
        if t >= self.end:
            return self.final
        fraction = (t - self.start) / (self.end - self.start)
        return float(self.initial + (self.final - self.initial) * fraction)

    def get_config(self):
        return {
            "start": self.start,
            "end": self.end,
            "initial": self.initial,
            "final": self.final,
            "by": self.by,
        }


__all__ = ["LinearWarmup"]
