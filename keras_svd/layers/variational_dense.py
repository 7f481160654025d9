"""`VariationalDense`: a Dense layer with Sparse Variational Dropout."""

import keras
from keras import ops

from keras_svd.layers.base_variational import BaseVariational
from keras_svd.validation import check_positive_int

__all__ = ["VariationalDense"]


@keras.saving.register_keras_serializable(package="keras_svd")
class VariationalDense(BaseVariational):
    """Densely-connected layer with a learned dropout rate per weight.

    Sparse Variational Dropout (Molchanov, Ashukha & Vetrov, ICML 2017). Each
    weight has the posterior N(theta, alpha * theta^2), where theta is
    `kernel` and alpha = exp(log alpha) with
    log alpha = clip(log_sigma2 - log(theta^2 + 1e-8), -8, 8).

    In training the layer samples its pre-activations with the local
    reparameterization trick:
    `mean = x @ theta`, `var = x^2 @ (alpha * theta^2)`,
    `outputs = activation(mean + sqrt(var + 1e-8) * eps + bias)` with
    eps ~ N(0, 1) drawn fresh for every example and unit. With
    `train_clip=True` the mean uses theta masked by log alpha < `threshold`.
    At inference it is deterministic:
    `outputs = activation(x @ (theta * [log alpha < threshold]) + bias)`.

    In training it adds `kl_weight * KL / N` to the model's losses; see
    `keras_svd.layers.BaseVariational` for the objective and the `kl` log.

    Args:
        units: positive integer, dimensionality of the output space.
        activation, use_bias, kernel_initializer, bias_initializer,
        kernel_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, bias_constraint: as for `keras.layers.Dense`.
        log_sigma2_init, threshold, train_clip, num_train_examples,
        kl_weight, seed: the variational arguments of
            `keras_svd.layers.BaseVariational` (log sigma^2 starts at -10;
            a weight is pruned at log alpha >= 3).

    Call arguments:
        inputs: tensor of rank >= 2.
        training: whether to sample (training) or use the pruned mean.

    Input shape:
        N-D tensor `(batch_size, ..., input_dim)`.

    Output shape:
        N-D tensor `(batch_size, ..., units)`.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((784,)),
        keras_svd.layers.VariationalDense(300, activation="relu"),
        keras_svd.layers.VariationalDense(10),
    ])
    keras_svd.set_num_train_examples(model, 60000)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    ```
    """

    plain_layer_class = keras.layers.Dense

    def __init__(
        self,
        units,
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
        units = check_positive_int(units, "units")
        super().__init__(**self.arguments_of(locals()))
        self.units = units
        self.input_spec = keras.InputSpec(min_ndim=2)
        self.supports_masking = True

    def compute_kernel_shape(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects inputs of rank >= 2 with a "
                f"known last dimension. Received: input_shape="
                f"{tuple(input_shape)}"
            )
        return (input_shape[-1], self.units)

    def linear_op(self, inputs, kernel):
        return ops.matmul(inputs, kernel)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
