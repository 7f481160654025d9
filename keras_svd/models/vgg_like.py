"""The VGG-like network for CIFAR-10 of the paper's Section 5."""

import math

import keras

from keras_svd.models.layer_factory import LayerFactory
from keras_svd.models.layer_factory import check_input_shape
from keras_svd.validation import check_positive_int
from keras_svd.validation import is_number

# VGG-16's convolutional part: channels per layer, "M" for 2x2 max pooling.
_CONV_PLAN = (
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, "M",
    512, 512, 512, "M",
    512, 512, 512, "M",
)  # fmt: skip


def vgg_like(
    variational=True,
    width=1.0,
    input_shape=(32, 32, 3),
    num_classes=10,
    name="vgg_like",
    **variational_kwargs,
):
    """Builds the VGG-like network with width factor k.

    13 conv 3x3 layers ("same" padding) of 64k ... 512k channels, each with
    batch normalization and ReLU, 2x2 max pooling after each block, then a
    dense layer of 512k units with batch normalization and ReLU and a dense
    layer of `num_classes` logits. Uncompiled.

    Args:
        variational: use variational layers (Sparse VD) or plain Keras ones.
        width: the width factor k (> 0); channel counts are rounded up.
        input_shape: shape of one image, channels last.
        num_classes: number of output logits.
        name: the model's name.
        **variational_kwargs: passed to every variational layer.

    Returns:
        A `keras.Sequential` model that outputs logits.

    Example:

    ```python
    model = keras_svd.models.vgg_like(width=0.25)
    ```
    """
    if (
        not is_number(width)
        or not math.isfinite(width)
        or width <= 0
    ):
        raise ValueError(
            f"width must be a positive number. Received: width={width!r}"
        )
    input_shape = check_input_shape(input_shape, rank=3)
    num_classes = check_positive_int(num_classes, "num_classes")
    make = LayerFactory(variational, variational_kwargs)
    layers = [keras.Input(input_shape)]
    conv_index = 0
    for item in _CONV_PLAN:
        if item == "M":
            layers.append(keras.layers.MaxPooling2D(2))
            continue
        conv_index += 1
        layers += [
            make.conv2d(
                int(math.ceil(item * width)),
                3,
                padding="same",
                use_bias=False,
                name=f"conv_{conv_index}",
            ),
            keras.layers.BatchNormalization(name=f"bn_{conv_index}"),
            keras.layers.ReLU(),
        ]
    layers += [
        keras.layers.Flatten(),
        make.dense(int(math.ceil(512 * width)), use_bias=False, name="dense"),
        keras.layers.BatchNormalization(name="bn_dense"),
        keras.layers.ReLU(),
        make.dense(num_classes, name="logits"),
    ]
    return keras.Sequential(layers, name=name)


__all__ = ["vgg_like"]
