"""The protocol and shared machinery of the Sparse Variational Dropout layers."""

import warnings

import keras
from keras import ops

from keras_svd import kl as kl_lib
from keras_svd.layers import lrt
from keras_svd.layers.kl_tracker import KLTracker
from keras_svd.validation import check_bool
from keras_svd.validation import check_finite_number
from keras_svd.validation import check_positive_int


def is_variational(layer):
    """Returns True when `layer` implements the variational-layer protocol.

    The protocol: methods `log_alpha()`, `kl_divergence()` and
    `pruning_mask()` and an attribute `threshold`. Utilities such as
    `keras_svd.sparsity_report` find layers through this check, so a user's
    own layer takes part by implementing those four names.
    """
    return (
        callable(getattr(layer, "log_alpha", None))
        and callable(getattr(layer, "kl_divergence", None))
        and callable(getattr(layer, "pruning_mask", None))
        and hasattr(layer, "threshold")
    )


class VariationalLayer:
    """Mixin for layers with one variational kernel (Sparse VD).

    Molchanov, Ashukha & Vetrov, "Variational Dropout Sparsifies Deep Neural
    Networks" (ICML 2017). Each kernel weight w has the posterior
    N(theta, sigma^2) with theta = `kernel` and log sigma^2 = `log_sigma2`;
    log alpha = clip(log_sigma2 - log(theta^2 + 1e-8), -8, 8) and
    sigma^2 = alpha * theta^2. Subclasses (`VariationalDense`,
    `VariationalConv2D`) supply the linear operation and `_finish(outputs)`
    (bias and activation); this mixin holds what
    they share: validation of the variational arguments, the extra weights,
    the protocol (`log_alpha`, `kl_divergence`, `pruning_mask`, `threshold`),
    the KL loss and the sampled output.

    The loss each layer adds with `add_loss` in training is
    `kl_weight * KL / N`, where KL is the layer's summed KL divergence, N the number of training examples
    (`num_train_examples`) and `kl_weight` the annealing weight beta. With
    Keras's mean NLL the objective per example is
    `mean NLL + beta * sum_layers(KL) / N`, the negative ELBO divided by N when
    beta = 1.
    """

    def _init_variational(
        self,
        log_sigma2_init,
        threshold,
        train_clip,
        num_train_examples,
        kl_weight,
        seed,
    ):
        threshold = check_finite_number(threshold, "threshold")
        log_sigma2_init = check_finite_number(
            log_sigma2_init, "log_sigma2_init"
        )
        train_clip = check_bool(train_clip, "train_clip")
        _validate_num_train_examples(num_train_examples, allow_none=True)
        _validate_kl_weight(kl_weight)
        self.log_sigma2_init = log_sigma2_init
        self.threshold = threshold
        self.train_clip = train_clip
        self.num_train_examples = num_train_examples
        self.kl_weight = float(kl_weight)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.kl_tracker = KLTracker(name=f"{self.name}_kl")
        self._warned_missing_n = False

    def _build_variational(self, kernel_shape):
        # float32 even under mixed precision: exp(12) is inf in float16.
        self.log_sigma2 = self.add_weight(
            name="log_sigma2",
            shape=kernel_shape,
            initializer=keras.initializers.Constant(self.log_sigma2_init),
            trainable=True,
            dtype="float32",
            autocast=False,
        )

    def _build_state(self):
        """Non-trainable scalars that callbacks change during `fit`."""
        n = self.num_train_examples
        self.kl_weight_variable = self.add_weight(
            name="kl_weight",
            shape=(),
            initializer=keras.initializers.Constant(self.kl_weight),
            trainable=False,
            dtype="float32",
            autocast=False,
        )
        self.inv_num_train_examples = self.add_weight(
            name="inv_num_train_examples",
            shape=(),
            initializer=keras.initializers.Constant(
                0.0 if n is None else 1.0 / n
            ),
            trainable=False,
            dtype="float32",
            autocast=False,
        )
        # 1.0: sample the weights at inference too (Monte-Carlo prediction).
        self.sample_at_inference = self.add_weight(
            name="sample_at_inference",
            shape=(),
            initializer="zeros",
            trainable=False,
            dtype="float32",
            autocast=False,
        )

    # -- Protocol -----------------------------------------------------------

    def log_alpha(self):
        """The clipped log alpha of every kernel weight (kernel's shape)."""
        return kl_lib.clipped_log_alpha(self.kernel, self.log_sigma2)

    def kl_divergence(self):
        """The layer's KL(q || prior), summed over its kernel (a scalar)."""
        return kl_lib.total_kl_divergence(self.log_alpha())

    def pruning_mask(self):
        """1.0 for a kept weight (log alpha < threshold), 0.0 for a pruned."""
        return ops.cast(ops.less(self.log_alpha(), self.threshold), "float32")

    def deterministic_layer(self):
        """A plain Keras layer computing this layer's inference output.

        The layer this one replaces (`keras.layers.Dense` for
        `VariationalDense`, `keras.layers.Conv2D` for `VariationalConv2D`),
        with the same configuration and name, built, its kernel set to
        `kernel * pruning_mask()` and its bias copied. It has no log sigma^2,
        no mask to compute and no KL: the export step of
        `keras_svd.strip_variational`.

        Returns:
            A new, built layer that shares no variables with this one.
        """
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built: call it on data (or "
                "build the model) before converting it."
            )
        config = {
            key: value
            for key, value in self.get_config().items()
            if key not in self._variational_config()
        }
        layer = self._deterministic_class().from_config(config)
        layer.build(self._deterministic_input_shape())
        kernel = ops.convert_to_numpy(self.kernel) * ops.convert_to_numpy(
            self.pruning_mask()
        )
        weights = [kernel.astype(layer.kernel.dtype)]
        if self.bias is not None:
            weights.append(ops.convert_to_numpy(self.bias))
        layer.set_weights(weights)
        return layer

    # -- Objective ----------------------------------------------------------

    def set_num_train_examples(self, num_train_examples):
        """Sets N, the number of training examples that scales the KL."""
        _validate_num_train_examples(num_train_examples)
        self.num_train_examples = int(num_train_examples)
        if self.built:
            self.inv_num_train_examples.assign(1.0 / self.num_train_examples)

    def set_kl_weight(self, kl_weight):
        """Sets beta, the weight of the KL term (1 = the true ELBO)."""
        _validate_kl_weight(kl_weight)
        self.kl_weight = float(kl_weight)
        if self.built:
            self.kl_weight_variable.assign(self.kl_weight)

    def _add_kl_loss(self, kl):
        """Adds `beta * kl / N`, `kl` the summed KL (training pass only)."""
        if self.num_train_examples is None:
            self._warn_missing_n()
        kl_term = kl * self.inv_num_train_examples
        self.add_loss(self.kl_weight_variable * kl_term)
        # JAX's stateless train step hands a layer's call only the model's
        # variables, not the metrics', so the `kl` log is TF / torch only.
        if keras.backend.backend() != "jax":
            self.kl_tracker.update_state(kl_term)

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
            stacklevel=3,
        )

    # -- Forward helpers ----------------------------------------------------

    def _masked_kernel(self, kernel, log_alpha):
        return ops.where(ops.less(log_alpha, self.threshold), kernel, 0.0)

    def _pruned_kernel(self, kernel):
        """The kernel with pruned weights zeroed, for the deterministic pass.

        The same weights as `pruning_mask()`, with fewer passes over the
        kernel: for -8 < threshold <= 8 clipping log alpha to [-8, 8] cannot
        change which side of the threshold a weight falls on, so the clip
        is skipped.
        """
        log_alpha = kl_lib.log_alpha_from_square(
            ops.square(ops.cast(kernel, "float32")),
            self.log_sigma2,
            clip=not (
                kl_lib.LOG_ALPHA_MIN < self.threshold <= kl_lib.LOG_ALPHA_MAX
            ),
        )
        return self._masked_kernel(kernel, log_alpha)

    def _sampling_kernels(self, dtype):
        """The kernels of the mean and the variance, and the summed KL.

        Log alpha and theta^2 are computed once, shared by the KL, the
        variance and the mask, with a hand-written gradient
        (`keras_svd.layers.lrt.kernel_terms`). The mean's kernel is theta,
        masked when `train_clip`; the variance's is sigma^2 = alpha *
        theta^2, both in `dtype` (the compute dtype).
        """
        mean_kernel, variance_kernel, kl = lrt.kernel_terms(
            self.kernel, self.log_sigma2, self.threshold, self.train_clip
        )
        return (
            ops.cast(mean_kernel, dtype),
            ops.cast(variance_kernel, dtype),
            kl,
        )

    def _sample(self, mean, variance, seed):
        """mean + sqrt(variance + 1e-8) * eps, eps ~ N(0, 1) per element."""
        std = ops.sqrt(ops.cast(variance, "float32") + kl_lib.EPSILON)
        noise = lrt.standard_normal(ops.shape(mean), seed)
        return mean + ops.cast(std * noise, mean.dtype)

    def _forward(self, inputs, training, linear):
        """The layer's output, sampled or deterministic.

        Args:
            inputs: the layer's inputs.
            training: sample (local reparameterization) and add the KL term
                when truthy.
            linear: `linear(x, kernel)`, the layer's linear operation (matmul
                or convolution). The subclass's `_finish(outputs)` adds the
                bias and applies the activation.

        At inference the `sample_at_inference` variable chooses, inside the
        compiled function, between the pruned mean (default) and a sample.
        Each branch of that `cond` holds the whole layer, bias and
        activation included: a `cond` between the linear operation and the
        bias keeps TensorFlow from fusing them (a third slower inference on
        LeNet-5-Caffe), and the deterministic branch computes log alpha
        without the clip, the KL or any noise.
        """
        x = ops.cast(inputs, self.compute_dtype)
        kernel = ops.cast(self.kernel, self.compute_dtype)

        def sampled(seed):
            mean_kernel, variance_kernel, kl = self._sampling_kernels(
                kernel.dtype
            )
            if training:
                self._add_kl_loss(kl)
            mean = linear(x, mean_kernel)
            variance = linear(ops.square(x), variance_kernel)
            return self._finish(self._sample(mean, variance, seed))

        if training:
            return sampled(self.seed_generator)
        self.kl_tracker.idle()
        if keras.backend.backend() == "jax":
            return self._jax_inference(x, kernel, linear)
        return ops.cond(
            self.sample_at_inference > 0.5,
            lambda: sampled(self.seed_generator),
            lambda: self._finish(linear(x, self._pruned_kernel(kernel))),
        )

    def _jax_inference(self, x, kernel, linear):
        """Inference on JAX: the linear operation outside any `cond`.

        XLA optimizes a model whole (layouts, fusions across layers); a
        convolution inside a `cond` is cut off from that and made LeNet-5's
        deterministic inference 4.4x the dense model's on CPU. Here the
        `cond`s choose only the kernel and the noise (zeros when
        deterministic), and the mean's convolution stays outside them. The
        seed is drawn outside too: a traced branch may not advance the
        generator's state.
        """
        sampling = self.sample_at_inference > 0.5
        seed = self.seed_generator.next()
        # One cond for both kernels, so that sampling computes them once;
        # deterministic, the variance kernel is a placeholder never used.
        mean_kernel, variance_kernel = ops.cond(
            sampling,
            lambda: self._sampling_kernels(kernel.dtype)[:2],
            lambda: (self._pruned_kernel(kernel), kernel),
        )
        mean = linear(x, mean_kernel)

        def noise():
            variance = linear(ops.square(x), variance_kernel)
            return self._sample(ops.zeros_like(mean), variance, seed)

        return self._finish(
            mean + ops.cond(sampling, noise, lambda: ops.zeros_like(mean))
        )

    def _linear_config(self):
        """The config of the arguments shared with Dense and Conv2D."""
        return {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer
            ),
            "bias_regularizer": keras.regularizers.serialize(
                self.bias_regularizer
            ),
            "activity_regularizer": keras.regularizers.serialize(
                self.activity_regularizer
            ),
            "kernel_constraint": keras.constraints.serialize(
                self.kernel_constraint
            ),
            "bias_constraint": keras.constraints.serialize(
                self.bias_constraint
            ),
        }

    def _variational_config(self):
        return {
            "log_sigma2_init": self.log_sigma2_init,
            "threshold": self.threshold,
            "train_clip": self.train_clip,
            "num_train_examples": self.num_train_examples,
            "kl_weight": self.kl_weight,
            "seed": self.seed,
        }


def _validate_num_train_examples(value, allow_none=False):
    return check_positive_int(value, "num_train_examples", allow_none)


def _validate_kl_weight(value):
    return check_finite_number(value, "kl_weight", minimum=0)
