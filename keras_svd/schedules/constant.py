"""`Constant`: the same beta for every epoch."""

import keras

from keras_svd.schedules.kl_schedule import KLSchedule
from keras_svd.schedules.kl_schedule import validate_beta


@keras.saving.register_keras_serializable(package="keras_svd")
class Constant(KLSchedule):
    """Beta = `value` at every epoch (no annealing).

    `Constant(1.0)` trains on the true ELBO from the first epoch, as the
    paper does when it starts from a pretrained network.

    Args:
        value: beta, a number in [0, 1].

    Example:

    ```python
    callback = keras_svd.callbacks.KLAnnealing(
        keras_svd.schedules.Constant(1.0))
    ```
    """

    def __init__(self, value):
        self.value = validate_beta(value, "value")

    def __call__(self, epoch, step=None):
        self._position(epoch, step)
        return self.value

    def get_config(self):
        return {"value": self.value}


__all__ = ["Constant"]
