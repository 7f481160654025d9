"""`VariationalConv2D`: a Conv2D layer with Sparse Variational Dropout."""

import math

import keras
from keras import ops

from keras_svd.layers.base_variational import BaseVariational
from keras_svd.validation import check_positive_int
from keras_svd.validation import is_integer

__all__ = ["VariationalConv2D"]


def _pair(value, name):
    """Normalizes an int or a pair of ints to a tuple of two positive ints."""
    if is_integer(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        pair = None
    if pair is None or not all(is_integer(v) and v >= 1 for v in pair):
        raise ValueError(
            f"{name} must be a positive integer or a tuple of 2 positive "
            f"integers. Received: {name}={value!r}"
        )
    return tuple(int(v) for v in pair)


@keras.saving.register_keras_serializable(package="keras_svd")
class VariationalConv2D(BaseVariational):
    """2D convolution with a learned dropout rate per weight.

    Sparse Variational Dropout (Molchanov, Ashukha & Vetrov, ICML 2017) for
    convolutions. Each kernel weight has the posterior N(theta, alpha *
    theta^2), with log alpha = clip(log_sigma2 - log(theta^2 + 1e-8), -8, 8).
    In training the layer samples its pre-activations with the local
    reparameterization trick, `mean = conv(x, theta)`,
    `var = conv(x^2, alpha * theta^2)` (same strides, padding, dilation and
    groups), `outputs = activation(mean + sqrt(var + 1e-8) * eps + bias)`,
    eps ~ N(0, 1) per output element. At inference it is deterministic:
    `activation(conv(x, theta * [log alpha < threshold]) + bias)`.

    It adds `kl_weight * KL / N` to the model's losses, exactly as
    `VariationalDense` does; see there for the objective.

    Args:
        filters: positive integer, the number of output channels.
        kernel_size: int or tuple of 2 ints, the convolution window.
        strides: int or tuple of 2 ints (default 1).
        padding: `"valid"` or `"same"` (case-insensitive).
        data_format: `"channels_last"`, `"channels_first"` or `None` (the
            Keras default from `keras.config.image_data_format()`).
        dilation_rate: int or tuple of 2 ints (default 1).
        groups: positive integer dividing `filters` and the input channels.
        activation, use_bias, kernel_initializer, bias_initializer,
        kernel_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, bias_constraint: as for `keras.layers.Conv2D`.
        log_sigma2_init, threshold, train_clip, num_train_examples,
        kl_weight, seed: the variational arguments of
            `keras_svd.layers.BaseVariational`.

    Call arguments:
        inputs: 4D tensor.
        training: whether to sample (training) or use the pruned mean.

    Input shape:
        `(batch, rows, cols, channels)` for channels_last,
        `(batch, channels, rows, cols)` for channels_first.

    Output shape:
        `(batch, new_rows, new_cols, filters)` for channels_last,
        `(batch, filters, new_rows, new_cols)` for channels_first.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras_svd.layers.VariationalConv2D(20, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras_svd.layers.VariationalDense(10),
    ])
    keras_svd.set_num_train_examples(model, 60000)
    ```
    """

    plain_layer_class = keras.layers.Conv2D

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1),
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        log_sigma2_init=-10.0,
        threshold=3.0,
        train_clip=False,
        num_train_examples=None,
        kl_weight=1.0,
        seed=None,
        **kwargs,
    ):
        filters = check_positive_int(filters, "filters")
        kernel_size = _pair(kernel_size, "kernel_size")
        strides = _pair(strides, "strides")
        dilation_rate = _pair(dilation_rate, "dilation_rate")
        if not isinstance(padding, str) or padding.lower() not in (
            "valid",
            "same",
        ):
            raise ValueError(
                'padding must be "valid" or "same". '
                f"Received: padding={padding!r}"
            )
        if data_format is None:
            data_format = keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                'data_format must be "channels_last", "channels_first" or '
                f"None. Received: data_format={data_format!r}"
            )
        if not is_integer(groups) or groups < 1 or filters % groups:
            raise ValueError(
                "groups must be a positive integer that divides filters "
                f"({filters}). Received: groups={groups!r}"
            )
        if max(strides) > 1 and max(dilation_rate) > 1:
            raise ValueError(
                "strides > 1 cannot be combined with dilation_rate > 1. "
                f"Received: strides={strides}, dilation_rate={dilation_rate}"
            )
        super().__init__(**self.arguments_of(locals()))
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding.lower()
        self.data_format = data_format
        self.dilation_rate = dilation_rate
        self.groups = int(groups)
        self.input_spec = keras.InputSpec(ndim=4)

    @property
    def channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def compute_kernel_shape(self, input_shape):
        channels = None if len(input_shape) != 4 else input_shape[
            self.channel_axis
        ]
        if channels is None or channels % self.groups:
            raise ValueError(
                f"{type(self).__name__} expects 4D inputs (batch, rows, cols, "
                "channels) or (batch, channels, rows, cols) with a known "
                f"number of channels divisible by groups={self.groups}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        spatial = (
            input_shape[1:3]
            if self.data_format == "channels_last"
            else input_shape[2:4]
        )
        if self.padding == "valid":
            for size, k, d in zip(spatial, self.kernel_size, self.dilation_rate):
                if size is not None and size < (k - 1) * d + 1:
                    raise ValueError(
                        f"{type(self).__name__}'s kernel (kernel_size="
                        f"{self.kernel_size}, dilation_rate="
                        f"{self.dilation_rate}) is larger than its input "
                        "with padding='valid', which would leave no output. "
                        f"Received: input_shape={tuple(input_shape)}"
                    )
        return self.kernel_size + (channels // self.groups, self.filters)

    def linear_op(self, inputs, kernel):
        return ops.conv(
            inputs,
            kernel,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            spatial = input_shape[1:3]
        else:
            spatial = input_shape[2:4]
        new_spatial = []
        for size, k, s, d in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate
        ):
            if size is None:
                new_spatial.append(None)
            elif self.padding == "same":
                new_spatial.append(int(math.ceil(size / s)))
            else:
                new_spatial.append((size - ((k - 1) * d + 1)) // s + 1)
        if self.data_format == "channels_last":
            return (input_shape[0], *new_spatial, self.filters)
        return (input_shape[0], self.filters, *new_spatial)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
        }
