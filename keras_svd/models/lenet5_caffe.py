"""LeNet-5-Caffe, the convolutional network of the paper's Table 1."""

import keras

from keras_svd.models.layer_factory import LayerFactory


def lenet5_caffe(
    variational=True,
    input_shape=(28, 28, 1),
    num_classes=10,
    name="lenet5_caffe",
    **variational_kwargs,
):
    """Builds LeNet-5-Caffe: conv 20@5x5, pool, conv 50@5x5, pool, 500, 10.

    Valid convolutions, 2x2 max pooling, ReLU, logits out; 430,500 kernel
    weights on MNIST. Uncompiled.

    Args:
        variational: use variational layers (Sparse VD) or plain Keras ones.
        input_shape: shape of one image, channels last.
        num_classes: number of output logits.
        name: the model's name.
        **variational_kwargs: passed to every variational layer.

    Returns:
        A `keras.Sequential` model that outputs logits.

    Example:

    ```python
    model = keras_svd.models.lenet5_caffe(variational=False)
    ```
    """
    make = LayerFactory(variational, variational_kwargs)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            make.conv2d(20, 5, activation="relu", name="conv_20"),
            keras.layers.MaxPooling2D(2),
            make.conv2d(50, 5, activation="relu", name="conv_50"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            make.dense(500, activation="relu", name="dense_500"),
            make.dense(num_classes, name="logits"),
        ],
        name=name,
    )


__all__ = ["lenet5_caffe"]
