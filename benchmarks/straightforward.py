"""A straightforward Sparse VD layer: `speed.py --straightforward`'s yardstick.

The paper's layer written the obvious way (as in the authors' code): log alpha
= clip(log sigma^2 - log(theta^2 + 1e-8), -8, 8), the mean through theta
masked where log alpha >= 3 (`train_clip`), the variance through
exp(log alpha) * theta^2, noise from the backend's normal sampler, the KL with
sigmoid and softplus, and autodiff for every gradient. No annealing variable,
no metric, no inference switch. It exists to tell the cost of the method on
this machine from the cost of `keras_svd`'s layers; not for use.
"""

import keras
from keras import ops

from keras_svd import kl as kl_lib


class _Straightforward(keras.layers.Layer):
    def __init__(self, plain, num_train_examples, **kwargs):
        super().__init__(name=plain.name + "_straightforward", **kwargs)
        self.plain = plain
        self.num_train_examples = num_train_examples
        self.seed_generator = keras.random.SeedGenerator(0)

    def build(self, input_shape):
        self.plain.build(input_shape)
        self.log_sigma2 = self.add_weight(
            name="log_sigma2",
            shape=self.plain.kernel.shape,
            initializer=keras.initializers.Constant(-10.0),
        )

    def linear(self, x, kernel):
        raise NotImplementedError

    def call(self, x, training=False):
        theta = ops.convert_to_tensor(self.plain.kernel)
        log_alpha = ops.clip(
            self.log_sigma2 - ops.log(ops.square(theta) + 1e-8), -8.0, 8.0
        )
        mean_kernel = ops.where(log_alpha < 3.0, theta, 0.0)
        out = self.linear(x, mean_kernel)
        if training:
            negative_kl = (
                kl_lib.K1 * ops.sigmoid(kl_lib.K2 + kl_lib.K3 * log_alpha)
                - 0.5 * ops.softplus(-log_alpha)
                - kl_lib.K1
            )
            self.add_loss(-ops.sum(negative_kl) / self.num_train_examples)
            variance = self.linear(
                ops.square(x), ops.exp(log_alpha) * ops.square(theta)
            )
            noise = keras.random.normal(
                ops.shape(out), seed=self.seed_generator
            )
            out = out + ops.sqrt(variance + 1e-8) * noise
        return self.plain.activation(
            out + ops.convert_to_tensor(self.plain.bias)
        )


class _StraightforwardDense(_Straightforward):
    def linear(self, x, kernel):
        return ops.matmul(x, kernel)


class _StraightforwardConv2D(_Straightforward):
    def linear(self, x, kernel):
        return ops.conv(
            x,
            kernel,
            strides=self.plain.strides,
            padding=self.plain.padding,
            data_format=self.plain.data_format,
        )


def straightforward_model(dense_model, num_train_examples):
    """`dense_model` with its Dense / Conv2D layers made straightforward SVD."""

    def replace(layer):
        copy = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, keras.layers.Dense):
            return _StraightforwardDense(copy, num_train_examples)
        if isinstance(layer, keras.layers.Conv2D):
            return _StraightforwardConv2D(copy, num_train_examples)
        return copy

    return keras.models.clone_model(dense_model, clone_function=replace)
