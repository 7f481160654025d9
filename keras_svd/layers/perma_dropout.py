"""`PermaDropout`: Monte-Carlo dropout that stays on at inference."""

import keras

from keras_svd.validation import check_rate
from keras_svd.validation import check_seed


@keras.saving.register_keras_serializable(package="keras_svd")
class PermaDropout(keras.layers.Dropout):
    """Dropout that is active in training and at inference alike.

    Monte-Carlo dropout (Gal & Ghahramani, 2016): keeping dropout on at test
    time turns one trained network into a distribution of predictions whose
    spread measures the model's uncertainty. The layer ignores `training`, so
    it stays stochastic under `model.predict`, `model(x)` and
    `model(x, training=False)`, in Sequential and functional models (Keras 3
    functional models override a node's `training=True` with the outer value,
    which silently turns `Dropout(rate)(x, training=True)` off under
    `predict`). Every call draws a fresh mask from the layer's
    `keras.random.SeedGenerator`. Kept units are scaled by `1 / (1 - rate)`
    so that the expected value is preserved.

    Args:
        rate: float in [0, 1), the fraction of input units to drop.
        noise_shape: 1D tuple of integers (or `None`), the shape of the binary
            mask, as in `keras.layers.Dropout`: one entry per input axis,
            each `None`, 1 or the input's size (checked at each call).
        seed: integer seed of the layer's generator; the masks still differ
            from call to call.

    Call arguments:
        inputs: input tensor (of any rank).
        training: ignored; the layer always drops.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(128, activation="relu"),
        keras_svd.layers.PermaDropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    # 20 passes per input in one compiled function, with their statistics:
    result = keras_svd.mc_predict(model, x, samples=20, from_logits=False)
    result.mean, result.mutual_information  # prediction and uncertainty
    ```
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        rate = check_rate(rate, "rate")
        seed = check_seed(seed)
        super().__init__(
            rate=rate, noise_shape=noise_shape, seed=seed, **kwargs
        )

    def call(self, inputs, training=None):
        if self.rate == 0:
            return inputs
        self._check_noise_shape(inputs.shape)
        return keras.random.dropout(
            inputs,
            self.rate,
            noise_shape=self.noise_shape,
            seed=self.seed_generator,
        )

    def _check_noise_shape(self, input_shape):
        """Raises a `ValueError` when the mask cannot broadcast to inputs.

        Each entry of `noise_shape` must be `None` (the input's size), 1 or
        the input's size on that axis, and there must be one per axis.
        """
        if self.noise_shape is None:
            return
        shape = tuple(input_shape)
        if len(self.noise_shape) != len(shape) or any(
            want is not None and size is not None and want not in (1, size)
            for want, size in zip(self.noise_shape, shape)
        ):
            raise ValueError(
                "noise_shape must have one entry per input axis, each None, "
                f"1 or the input's size on that axis; the inputs have shape "
                f"{shape}. Received: noise_shape={self.noise_shape!r}"
            )
