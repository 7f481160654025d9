"""`VariationalDense`: a Dense layer with Sparse Variational Dropout."""

import keras
from keras import ops

from keras_svd.layers.variational_layer import VariationalLayer
from keras_svd.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_svd")
class VariationalDense(VariationalLayer, keras.layers.Layer):
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

    In training the layer adds `kl_weight * KL / N` to the model's losses,
    where KL is the paper's approximation of KL(q || log-uniform prior)
    summed over the kernel and N is `num_train_examples`. Keras's loss is a
    mean over the batch, so `fit` minimizes
    `mean NLL + beta * sum_layers(KL) / N` (the negative ELBO / N for
    beta = 1). Give N once for a whole model with
    `keras_svd.set_num_train_examples(model, n)`; the `kl` entry of the
    training logs reports `sum_layers(KL) / N` (TensorFlow and PyTorch
    backends). Inference adds no loss, so `evaluate` and `val_loss` report
    the NLL of the pruned deterministic network.

    Args:
        units: positive integer, dimensionality of the output space.
        activation: activation function (see `keras.activations`); default
            none.
        use_bias: whether the layer uses a bias vector (never noisy).
        kernel_initializer: initializer for theta, the kernel.
        bias_initializer: initializer for the bias.
        kernel_regularizer: regularizer for the kernel.
        bias_regularizer: regularizer for the bias.
        activity_regularizer: regularizer for the output.
        kernel_constraint: constraint for the kernel.
        bias_constraint: constraint for the bias.
        log_sigma2_init: initial value of every log sigma^2 (default -10).
        threshold: log alpha at and above which a weight is pruned
            (default 3.0, a dropout rate above 0.95).
        train_clip: use the pruned kernel for the mean in training.
        num_train_examples: N, the number of training examples that scales
            the KL term; `keras_svd.set_num_train_examples` sets it too.
        kl_weight: beta, the initial weight of the KL term (1 = the ELBO).
        seed: integer seed of the layer's noise generator.

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
        super().__init__(
            activity_regularizer=activity_regularizer, **kwargs
        )
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self._init_variational(
            log_sigma2_init=log_sigma2_init,
            threshold=threshold,
            train_clip=train_clip,
            num_train_examples=num_train_examples,
            kl_weight=kl_weight,
            seed=seed,
        )
        self.input_spec = keras.InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                f"{type(self).__name__} expects inputs of rank >= 2. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs a known last dimension. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        kernel_shape = (input_dim, self.units)
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._build_variational(kernel_shape)
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self._build_state()
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs, training=None):
        return self._forward(inputs, training, ops.matmul)

    def _deterministic_class(self):
        return keras.layers.Dense

    def _deterministic_input_shape(self):
        return (None, self.kernel.shape[0])

    def _finish(self, outputs):
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        config.update(self._linear_config())
        config.update(self._variational_config())
        return config
