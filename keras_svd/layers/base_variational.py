"""`BaseVariational`: the base layer of the Sparse Variational Dropout layers."""

import inspect
import warnings

import keras
import numpy as np
from keras import ops

from keras_svd import variational_ops
from keras_svd.validation import check_bool
from keras_svd.validation import check_finite_number
from keras_svd.validation import check_kl_weight
from keras_svd.validation import check_num_train_examples
from keras_svd.validation import get_identifier

__all__ = ["BaseVariational"]


class BaseVariational(keras.layers.Layer):
    """Base layer with one variational kernel (Sparse Variational Dropout).

    Molchanov, Ashukha & Vetrov, "Variational Dropout Sparsifies Deep Neural
    Networks" (ICML 2017). Each kernel weight w has the posterior
    N(theta, alpha theta^2) with theta = `kernel` and log sigma^2 =
    `log_sigma2`, log alpha = clip(log sigma^2 - log(theta^2 + 1e-8), -8, 8)
    (the math is in `keras_svd.variational_ops`).

    In training the layer samples its pre-activations with the local
    reparameterization trick, `mean = linear(x, theta)`,
    `var = linear(x^2, alpha theta^2)`,
    `outputs = activation(mean + sqrt(var + 1e-8) * eps + bias)` with eps ~
    N(0, 1) fresh per output element, and adds `kl_weight * KL / N` to the
    model's losses (KL the layer's summed KL divergence, N
    `num_train_examples`). With Keras's mean NLL, `fit` minimizes
    `mean NLL + beta * sum_layers(KL) / N`, the negative ELBO over N for
    beta = 1. At inference it computes
    `activation(linear(x, theta * [log alpha < threshold]) + bias)`, or a
    sample when its `sample_at_inference` variable is 1.0
    (`keras_svd.sampling_mode`). It implements
    `keras_svd.layers.VariationalProtocol`.

    A subclass supplies the hooks, as keras's `BaseConv` takes
    `convolution_op`: `compute_kernel_shape(input_shape)`,
    `linear_op(inputs, kernel)`, `compute_output_shape(input_shape)` and the
    class attribute `plain_layer_class` (the Keras layer it exports to, with
    the same config less the variational arguments); `channel_axis` (-1 by
    default) is the axis of the output units, which the bias is added on and
    the input spec pins.

    Args:
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
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the input tensor.
        training: sample (local reparameterization) and add the KL term
            when truthy; otherwise the pruned mean (or a sample, see above).

    Example:

    ```python
    class VariationalConv1D(keras_svd.layers.BaseVariational):
        plain_layer_class = keras.layers.Conv1D

        def __init__(self, filters, kernel_size, **kwargs):
            super().__init__(**kwargs)
            self.filters, self.kernel_size = filters, kernel_size

        def compute_kernel_shape(self, input_shape):
            return (self.kernel_size, input_shape[-1], self.filters)

        def linear_op(self, inputs, kernel):
            return keras.ops.conv(inputs, kernel)

        def compute_output_shape(self, input_shape):
            steps = input_shape[1] - self.kernel_size + 1
            return (input_shape[0], steps, self.filters)

        def get_config(self):
            return {**super().get_config(), "filters": self.filters,
                    "kernel_size": self.kernel_size}
    ```
    """

    plain_layer_class = None

    def __init__(
        self,
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
        threshold = check_finite_number(threshold, "threshold")
        log_sigma2_init = check_finite_number(
            log_sigma2_init, "log_sigma2_init"
        )
        train_clip = check_bool(train_clip, "train_clip")
        use_bias = check_bool(use_bias, "use_bias")
        check_num_train_examples(num_train_examples, allow_none=True)
        check_kl_weight(kl_weight)
        activity_regularizer = get_identifier(
            keras.regularizers, activity_regularizer, "activity_regularizer"
        )
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.activation = get_identifier(
            keras.activations, activation, "activation"
        )
        self.use_bias = use_bias
        self.kernel_initializer = get_identifier(
            keras.initializers, kernel_initializer, "kernel_initializer"
        )
        self.bias_initializer = get_identifier(
            keras.initializers, bias_initializer, "bias_initializer"
        )
        self.kernel_regularizer = get_identifier(
            keras.regularizers, kernel_regularizer, "kernel_regularizer"
        )
        self.bias_regularizer = get_identifier(
            keras.regularizers, bias_regularizer, "bias_regularizer"
        )
        self.kernel_constraint = get_identifier(
            keras.constraints, kernel_constraint, "kernel_constraint"
        )
        self.bias_constraint = get_identifier(
            keras.constraints, bias_constraint, "bias_constraint"
        )
        self.log_sigma2_init = log_sigma2_init
        self.threshold = threshold
        self.train_clip = train_clip
        self.num_train_examples = num_train_examples
        self.kl_weight = float(kl_weight)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._warned_missing_n = False
        self._input_shape_at_build = None

    @staticmethod
    def arguments_of(local_variables):
        """The base constructor's arguments out of a subclass's `locals()`.

        A subclass keeps the full signature of the layer it replaces and
        passes the shared arguments on with
        `super().__init__(**self.arguments_of(locals()))`.
        """
        names = inspect.signature(BaseVariational.__init__).parameters
        arguments = {
            name: local_variables[name]
            for name in names
            if name not in ("self", "kwargs") and name in local_variables
        }
        arguments.update(local_variables.get("kwargs", {}))
        return arguments

    # -- Hooks ---------------------------------------------------------------

    def compute_kernel_shape(self, input_shape):
        """The kernel's shape for `input_shape` (raise on a bad shape)."""
        raise NotImplementedError

    def linear_op(self, inputs, kernel):
        """The layer's linear operation (matmul, convolution, ...)."""
        raise NotImplementedError

    @property
    def channel_axis(self):
        """The axis of the output units (and of the inputs' features)."""
        return -1

    # -- Build ---------------------------------------------------------------

    def build(self, input_shape):
        kernel_shape = tuple(self.compute_kernel_shape(input_shape))
        self._input_shape_at_build = tuple(input_shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        # float32 even under mixed precision: exp(12) is inf in float16.
        self.log_sigma2 = self.add_weight(
            name="log_sigma2",
            shape=kernel_shape,
            initializer=keras.initializers.Constant(self.log_sigma2_init),
            dtype="float32",
            autocast=False,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(kernel_shape[-1],),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        n = self.num_train_examples
        self.kl_weight_variable = self._state_weight(
            "kl_weight", (), self.kl_weight
        )
        self.inv_num_train_examples = self._state_weight(
            "inv_num_train_examples", (), 0.0 if n is None else 1.0 / n
        )
        # 1.0: sample the weights at inference too (Monte-Carlo prediction).
        self.sample_at_inference = self._state_weight(
            "sample_at_inference", (), 0.0
        )
        # The `kl` log: [sum of KL / N, sum of beta * KL / N, passes] since
        # the last reset, written by the training pass as BatchNormalization
        # writes its moving statistics, so it works on JAX's stateless train
        # step too. Synchronized on read: under tf.distribute each replica
        # adds to its own copy, with no cross-replica step inside the
        # forward pass (see `_add_kl_loss`), and a read averages the copies
        # (each replica adds the same value).
        with keras.name_scope(self.name, caller=self):
            self.kl_log = keras.Variable(
                initializer=keras.initializers.Zeros(),
                shape=(3,),
                dtype="float32",
                trainable=False,
                autocast=False,
                aggregation="mean",
                synchronization="on_read",
                name="kl_log",
            )
        self._warn_if_born_pruned()
        spec = self.input_spec
        self.input_spec = keras.InputSpec(
            ndim=getattr(spec, "ndim", None),
            min_ndim=getattr(spec, "min_ndim", None),
            axes={self.channel_axis: input_shape[self.channel_axis]},
        )

    def _warn_if_born_pruned(self):
        """Warns when most weights start with log alpha >= threshold.

        Such weights stay pruned: where log alpha is clipped at 8 the
        gradient of log sigma^2 is zero, so training cannot bring them back,
        and the network learns nothing.
        """
        try:
            kept = ops.convert_to_numpy(self.pruning_mask())
        except Exception:  # noqa: BLE001
            # Built while a function is traced (a subclassed model's first
            # call): the values are symbolic and there is nothing to check.
            return
        pruned = 1.0 - float(np.mean(kept))
        if pruned > 0.5:
            warnings.warn(
                f"{self.name}: {100 * pruned:.0f}% of the weights start "
                f"pruned (log alpha >= threshold={self.threshold}) with "
                f"log_sigma2_init={self.log_sigma2_init}. Where log alpha "
                "is clipped at 8 log sigma^2 gets no gradient, so they may "
                "never come back; use a lower log_sigma2_init (default "
                "-10).",
                UserWarning,
                stacklevel=3,
            )

    def _state_weight(self, name, shape, value, aggregation="none"):
        """A non-trainable float32 variable (never cast to float16)."""
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=keras.initializers.Constant(value),
            trainable=False,
            dtype="float32",
            autocast=False,
            aggregation=aggregation,
        )

    def save_own_variables(self, store):
        # `kl_log` is per-run logging state: files keep the format of
        # keras-svd 0.1.0 (six variables), which loads both ways.
        saved = self._saved_variables()
        for i, variable in enumerate(saved):
            store[f"{i}"] = variable

    def load_own_variables(self, store):
        saved = self._saved_variables()
        if len(store.keys()) != len(saved):
            raise ValueError(
                f"Layer {self.name!r} expected {len(saved)} variables "
                f"({', '.join(v.name for v in saved)}), but the file has "
                f"{len(store.keys())}."
            )
        for i, variable in enumerate(saved):
            variable.assign(store[f"{i}"])

    def _saved_variables(self):
        return [
            v
            for v in self._trainable_variables + self._non_trainable_variables
            if v is not self.kl_log
        ]

    # -- Forward -------------------------------------------------------------

    def call(self, inputs, training=None):
        x = ops.cast(inputs, self.compute_dtype)
        if training:
            outputs, kl = variational_ops.sampled_output(
                x,
                self.kernel,
                self.log_sigma2,
                self.threshold,
                self.train_clip,
                self.linear_op,
                self._finish,
                self.seed_generator,
            )
            self._add_kl_loss(kl)
            return outputs
        return variational_ops.inference(
            x,
            self.kernel,
            self.log_sigma2,
            self.threshold,
            self.train_clip,
            self.sample_at_inference > 0.5,
            self.linear_op,
            self._finish,
            self.seed_generator,
        )

    def _finish(self, outputs):
        """Adds the bias on `channel_axis` and applies the activation."""
        if self.bias is not None:
            bias = self.bias
            axis = self.channel_axis % len(outputs.shape)
            if axis != len(outputs.shape) - 1:
                shape = [1] * len(outputs.shape)
                shape[axis] = -1
                bias = ops.reshape(bias, shape)
            outputs = ops.add(outputs, bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def _add_kl_loss(self, kl):
        """Adds `beta * kl / N`, `kl` the summed KL (training pass only)."""
        if self.num_train_examples is None:
            self._warn_missing_n()
        kl_term = kl * self.inv_num_train_examples
        kl_loss = self.kl_weight_variable * kl_term
        self.add_loss(kl_loss)
        # No merge point of tf.distribute here (the log is synchronized on
        # read): MirroredStrategy traces its replicas in threads that switch
        # at such points, and the replicas share every layer's list of
        # `add_loss` terms, which the model's call clears; a switch between
        # two variational layers left some KL terms counted twice in the
        # loss and others once (LeNet-300-100 on two replicas, beta = 1: a
        # first-step loss of 322.1 for one device's 282.4, and half the
        # first layer's KL gradient).
        self.kl_log.assign_add(
            ops.stop_gradient(
                ops.stack([kl_term, kl_loss, ops.ones_like(kl_term)])
            )
        )

    def _warn_missing_n(self):
        if self._warned_missing_n:
            return
        self._warned_missing_n = True
        warnings.warn(
            f"{type(self).__name__} is training without the number of "
            "training examples N, so its KL term is left out of the loss "
            "(no sparsification). Call "
            "`keras_svd.set_num_train_examples(model, n)` before `fit` (or "
            "pass `num_train_examples=n` to the layer).",
            UserWarning,
            stacklevel=4,
        )

    # -- Protocol ------------------------------------------------------------

    def log_alpha(self):
        """The clipped log alpha of every kernel weight (kernel's shape)."""
        return variational_ops.log_alpha(self.kernel, self.log_sigma2)

    def kl_divergence(self):
        """The layer's KL(q || prior), summed over its kernel (a scalar)."""
        return variational_ops.total_kl_divergence(self.log_alpha())

    def pruning_mask(self):
        """1.0 for a kept weight (log alpha < threshold), 0.0 for a pruned."""
        return variational_ops.pruning_mask(self.log_alpha(), self.threshold)

    def set_num_train_examples(self, num_train_examples):
        """Sets N, the number of training examples that scales the KL."""
        check_num_train_examples(num_train_examples)
        self.num_train_examples = int(num_train_examples)
        if self.built:
            self.inv_num_train_examples.assign(
                1.0 / self.num_train_examples
            )

    def set_kl_weight(self, kl_weight):
        """Sets beta, the weight of the KL term (1 = the true ELBO)."""
        check_kl_weight(kl_weight)
        self.kl_weight = float(kl_weight)
        if self.built:
            self.kl_weight_variable.assign(self.kl_weight)

    def sampling_variable(self):
        """The `sample_at_inference` variable (1.0 samples at inference)."""
        self._require_built("`sample_at_inference` variable")
        return self.sample_at_inference

    def kl_log_variable(self):
        """The `[sum of KL / N, sum of beta KL / N, passes]` variable."""
        self._require_built("`kl_log` variable")
        return self.kl_log

    def deterministic_layer(self):
        """A plain Keras layer computing this layer's inference output.

        `plain_layer_class` (`keras.layers.Dense` for `VariationalDense`,
        `keras.layers.Conv2D` for `VariationalConv2D`) with the same
        configuration and name, built, its kernel set to
        `kernel * pruning_mask()` and its bias copied. It has no log sigma^2,
        no mask to compute and no KL: the export step of
        `keras_svd.strip_variational`.

        Returns:
            A new, built layer that shares no variables with this one.
        """
        self._require_built("kernel to convert")
        config = self.get_config()
        for name in _VARIATIONAL_ARGUMENTS:
            config.pop(name)
        layer = self.plain_layer_class.from_config(config)
        shape = [None] * len(self._input_shape_at_build)
        shape[self.channel_axis] = self._input_shape_at_build[self.channel_axis]
        layer.build(tuple(shape))
        kernel = ops.convert_to_numpy(self.kernel) * ops.convert_to_numpy(
            self.pruning_mask()
        )
        weights = [kernel.astype(layer.kernel.dtype)]
        if self.bias is not None:
            weights.append(ops.convert_to_numpy(self.bias))
        layer.set_weights(weights)
        return layer

    def _require_built(self, what):
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built, so it has no {what} yet. "
                "Build the model first (give it a `keras.Input` or call it "
                "on a batch)."
            )

    # -- Config --------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "kernel_regularizer": serialize(self.kernel_regularizer),
                "bias_regularizer": serialize(self.bias_regularizer),
                "activity_regularizer": serialize(self.activity_regularizer),
                "kernel_constraint": serialize(self.kernel_constraint),
                "bias_constraint": serialize(self.bias_constraint),
                "log_sigma2_init": self.log_sigma2_init,
                "threshold": self.threshold,
                "train_clip": self.train_clip,
                "num_train_examples": self.num_train_examples,
                "kl_weight": self.kl_weight,
                "seed": self.seed,
            }
        )
        return config


_VARIATIONAL_ARGUMENTS = (
    "log_sigma2_init",
    "threshold",
    "train_clip",
    "num_train_examples",
    "kl_weight",
    "seed",
)
