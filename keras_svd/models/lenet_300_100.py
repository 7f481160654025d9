"""LeNet-300-100, the fully connected network of the paper's Table 1."""

import keras

from keras_svd.models.layer_factory import LayerFactory
from keras_svd.models.layer_factory import check_input_shape
from keras_svd.models.layer_factory import check_positive_ints
from keras_svd.models.layer_factory import unique_names
from keras_svd.validation import check_positive_int


def lenet_300_100(
    variational=True,
    input_shape=(28, 28, 1),
    num_classes=10,
    name="lenet_300_100",
    units=(300, 100),
    **variational_kwargs,
):
    """Builds LeNet-300-100: 784-300-100-10 with ReLU, logits out.

    266,200 kernel weights on MNIST. Uncompiled. `units` changes the widths
    of the two hidden layers (the same architecture, narrower or wider: what
    `keras_svd.tuner.SparseVDHyperModel` searches over).

    Args:
        variational: use `VariationalDense` layers (Sparse VD) or plain
            `keras.layers.Dense`.
        input_shape: shape of one image; flattened first.
        num_classes: number of output logits.
        name: the model's name.
        units: the widths of the two hidden layers, two positive integers.
        **variational_kwargs: passed to every variational layer
            (`train_clip`, `threshold`, `num_train_examples`, ...).

    Returns:
        A `keras.Sequential` model that outputs logits.

    Example:

    ```python
    model = keras_svd.models.lenet_300_100(train_clip=True)
    keras_svd.set_num_train_examples(model, 60000)
    ```
    """
    input_shape = check_input_shape(input_shape)
    num_classes = check_positive_int(num_classes, "num_classes")
    units = check_positive_ints(units, 2, "units")
    names = unique_names([f"dense_{u}" for u in units])
    make = LayerFactory(variational, variational_kwargs)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            make.dense(units[0], activation="relu", name=names[0]),
            make.dense(units[1], activation="relu", name=names[1]),
            make.dense(num_classes, name="logits"),
        ],
        name=name,
    )


__all__ = ["lenet_300_100"]
