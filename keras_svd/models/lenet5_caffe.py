"""LeNet-5-Caffe, the convolutional network of the paper's Table 1."""

import keras

from keras_svd.models.layer_factory import LayerFactory
from keras_svd.models.layer_factory import check_input_shape
from keras_svd.models.layer_factory import check_positive_ints
from keras_svd.models.layer_factory import unique_names
from keras_svd.validation import check_positive_int


def lenet5_caffe(
    variational=True,
    input_shape=(28, 28, 1),
    num_classes=10,
    name="lenet5_caffe",
    filters=(20, 50),
    units=500,
    **variational_kwargs,
):
    """Builds LeNet-5-Caffe: conv 20@5x5, pool, conv 50@5x5, pool, 500, 10.

    Valid convolutions, 2x2 max pooling, ReLU, logits out; 430,500 kernel
    weights on MNIST. Uncompiled. `filters` and `units` change the widths
    (what `keras_svd.tuner.SparseVDHyperModel` searches over).

    Args:
        variational: use variational layers (Sparse VD) or plain Keras ones.
        input_shape: shape of one image, channels last.
        num_classes: number of output logits.
        name: the model's name.
        filters: the channels of the two convolutions, two positive
            integers.
        units: the width of the hidden dense layer, a positive integer.
        **variational_kwargs: passed to every variational layer.

    Returns:
        A `keras.Sequential` model that outputs logits.

    Example:

    ```python
    model = keras_svd.models.lenet5_caffe(variational=False)
    ```
    """
    input_shape = check_input_shape(input_shape, rank=3)
    num_classes = check_positive_int(num_classes, "num_classes")
    filters = check_positive_ints(filters, 2, "filters")
    units = check_positive_int(units, "units")
    names = unique_names([f"conv_{f}" for f in filters])
    make = LayerFactory(variational, variational_kwargs)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            make.conv2d(filters[0], 5, activation="relu", name=names[0]),
            keras.layers.MaxPooling2D(2),
            make.conv2d(filters[1], 5, activation="relu", name=names[1]),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            make.dense(units, activation="relu", name=f"dense_{units}"),
            make.dense(num_classes, name="logits"),
        ],
        name=name,
    )


__all__ = ["lenet5_caffe"]
