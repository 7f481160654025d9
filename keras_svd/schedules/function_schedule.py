"""`FunctionSchedule`: a plain Python callable used as a schedule."""

import keras

from keras_svd.schedules.kl_schedule import KLSchedule
from keras_svd.schedules.kl_schedule import validate_beta
from keras_svd.schedules.kl_schedule import validate_by


@keras.saving.register_keras_serializable(package="keras_svd")
class FunctionSchedule(KLSchedule):
    """Wraps a callable `t -> beta` as a `KLSchedule`.

    `keras_svd.schedules.get` wraps a plain callable in this class, so
    `KLAnnealing(lambda epoch: min(epoch / 10, 1.0))` works. The callable
    receives the epoch index (`by="epoch"`) or the optimizer's iteration
    count (`by="step"`) and must return a number in [0, 1]; the value is
    checked on every call.

    Serialization goes through `keras.saving.serialize_keras_object`: a
    function registered with `keras.saving.register_keras_serializable`
    round-trips; a lambda needs `safe_mode=False` to be deserialized.

    Args:
        function: callable taking one integer and returning beta.
        by: "epoch" or "step", what the callable receives.

    Example:

    ```python
    schedule = keras_svd.schedules.FunctionSchedule(
        lambda epoch: 0.0 if epoch < 3 else 1.0)
    schedule(2), schedule(3)  # (0.0, 1.0)
    ```
    """

    def __init__(self, function, by="epoch"):
        if not callable(function):
            raise ValueError(
                "function must be callable. "
                f"Received: function={function!r}"
            )
        self.function = function
        self.by = validate_by(by)

    def __call__(self, epoch, step=None):
        t = self._position(epoch, step)
        return validate_beta(self.function(t), "beta")

    def get_config(self):
        return {
            "function": keras.saving.serialize_keras_object(self.function),
            "by": self.by,
        }

    def __repr__(self):
        # Not through `get_config`: serializing a lambda reads its source.
        return f"FunctionSchedule({self.function!r}, by={self.by!r})"

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        function = config.pop("function")
        if isinstance(function, dict):
            function = keras.saving.deserialize_keras_object(function)
        return cls(function, **config)


__all__ = ["FunctionSchedule"]
