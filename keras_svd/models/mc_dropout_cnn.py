"""The CNN of the dropout-at-test-time experiment (Monte-Carlo dropout)."""

import warnings

import keras

from keras_svd.layers.perma_dropout import PermaDropout
from keras_svd.models.layer_factory import check_input_shape
from keras_svd.validation import check_positive_int
from keras_svd.validation import check_rate
from keras_svd.validation import check_seed


def mc_dropout_cnn(
    hidden_units=500,
    conv_rate=0.5,
    hidden_rate=0.5,
    input_shape=(28, 28, 1),
    num_classes=10,
    seed=None,
    name="mc_dropout_cnn",
):
    """Builds the CNN whose dropout stays on at inference.

    conv 20@5x5 - PermaDropout(conv_rate) - max pool - conv 50@5x5 -
    PermaDropout(conv_rate) - max pool - dense `hidden_units` -
    PermaDropout(hidden_rate) - dense `num_classes` (logits); ReLU. Each call
    of the trained model samples a subnetwork; `keras_svd.mc_predict` averages
    them. Uncompiled.

    Args:
        hidden_units: width N of the last hidden layer (500 in the seed
            experiment, 128 where single passes start failing).
        conv_rate: dropout rate after each convolution, in [0, 1).
        hidden_rate: dropout rate after the hidden dense layer, in [0, 1).
        input_shape: shape of one image, channels last.
        num_classes: number of output logits.
        seed: integer seed of the dropout layers' generators.
        name: the model's name.

    Returns:
        A `keras.Sequential` model that outputs logits.

    Example:

    ```python
    model = keras_svd.models.mc_dropout_cnn(128, hidden_rate=0.9)
    ```
    """
    hidden_units = check_positive_int(hidden_units, "hidden_units")
    conv_rate = check_rate(conv_rate, "conv_rate")
    hidden_rate = check_rate(hidden_rate, "hidden_rate")
    input_shape = check_input_shape(input_shape, rank=3)
    num_classes = check_positive_int(num_classes, "num_classes")
    seed = check_seed(seed)

    def seed_for(offset):
        return None if seed is None else seed + offset

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(20, 5, activation="relu", name="conv_20"),
            PermaDropout(conv_rate, seed=seed_for(0)),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(50, 5, activation="relu", name="conv_50"),
            PermaDropout(conv_rate, seed=seed_for(1)),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(
                hidden_units, activation="relu", name="dense_hidden"
            ),
            PermaDropout(hidden_rate, seed=seed_for(2)),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name=name,
    )


def test_time_dropout_cnn(*args, **kwargs):
    """Deprecated alias of `mc_dropout_cnn`; warns and calls it.

    The old name starts with `test_`, so pytest collected it in any test
    module that imported it.
    """
    warnings.warn(
        "keras_svd.models.test_time_dropout_cnn is deprecated; use "
        "keras_svd.models.mc_dropout_cnn.",
        DeprecationWarning,
        stacklevel=2,
    )
    return mc_dropout_cnn(*args, **kwargs)


# Not a test, whatever its name: pytest skips it where it is imported.
test_time_dropout_cnn.__test__ = False

__all__ = ["mc_dropout_cnn"]
