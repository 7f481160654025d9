"""The math of Sparse Variational Dropout, in one place.

Molchanov, Ashukha & Vetrov, "Variational Dropout Sparsifies Deep Neural
Networks" (ICML 2017). Each weight w has the posterior N(theta, alpha theta^2)
with theta the layer's `kernel` and log sigma^2 a second weight of the same
shape:

- log alpha = clip(log sigma^2 - log(theta^2 + 1e-8), -8, 8);
- the KL to the log-uniform prior, the paper's eq. (14):
  `KL ~= k1 - k1 sigmoid(k2 + k3 log alpha) + 0.5 softplus(-log alpha)`,
  k1 = 0.63576, k2 = 1.87320, k3 = 1.48695 (tends to 0 as alpha grows);
- the mask: a weight is kept while log alpha < threshold;
- the local reparameterization trick: the pre-activations are sampled as
  `linear(x, theta) + sqrt(linear(x^2, alpha theta^2) + 1e-8) * eps`.

Every variational layer, utility and test takes these from here. The
backend-specific fast paths sit behind one dispatch each, in this module
only: the hand-written gradient of `kernel_terms` (TensorFlow and JAX), the
Box-Muller noise of `standard_normal` (TensorFlow) and the structure of
`inference` (JAX).
"""

import math

import keras
from keras import ops

__all__ = [
    "K1",
    "K2",
    "K3",
    "LOG_ALPHA_MIN",
    "LOG_ALPHA_MAX",
    "EPSILON",
    "log_alpha",
    "kl_divergence",
    "total_kl_divergence",
    "pruning_mask",
    "pruned_kernel",
    "kernel_terms",
    "standard_normal",
    "sample",
    "sampled_output",
    "inference",
]

K1 = 0.63576
K2 = 1.87320
K3 = 1.48695

LOG_ALPHA_MIN = -8.0
LOG_ALPHA_MAX = 8.0
EPSILON = 1e-8


# -- Log alpha, the KL and the mask -------------------------------------------


def _raw_log_alpha(kernel_square, log_sigma2):
    """log sigma^2 - log(theta^2 + 1e-8), unclipped (float32)."""
    return ops.cast(log_sigma2, "float32") - ops.log(kernel_square + EPSILON)


def _clip(raw_log_alpha):
    return ops.clip(raw_log_alpha, LOG_ALPHA_MIN, LOG_ALPHA_MAX)


def log_alpha(kernel, log_sigma2):
    """Returns clip(log_sigma2 - log(kernel^2 + 1e-8), -8, 8) in float32.

    Args:
        kernel: the posterior means theta.
        log_sigma2: the posterior log variances, same shape as `kernel`.

    Returns:
        The clipped log alpha, float32, the kernel's shape.
    """
    kernel = ops.cast(kernel, "float32")
    return _clip(_raw_log_alpha(ops.square(kernel), log_sigma2))


def _kl_and_sigmoid(log_alpha, softplus_of_minus_log_alpha):
    """The per-weight KL and the sigmoid its gradient needs.

    `softplus_of_minus_log_alpha` is log(1 + 1 / alpha), passed in so that
    the training pass can take it from alpha without a softplus.
    """
    sigmoid = ops.sigmoid(K3 * log_alpha + K2)
    kl = K1 - K1 * sigmoid + 0.5 * softplus_of_minus_log_alpha
    return kl, sigmoid


def kl_divergence(log_alpha):
    """Per-weight KL(q || log-uniform prior), the paper's approximation.

    Args:
        log_alpha: tensor of log alpha values (the layers clip them to
            [-8, 8]).

    Returns:
        A float32 tensor of the same shape, KL >= 0 per weight.

    Example:

    ```python
    kl = keras_svd.kl.kl_divergence(keras.ops.array([-8.0, 0.0, 8.0]))
    # about [7.9, 0.25, 0.0003]: large for a precise weight, 0 for noise.
    ```
    """
    log_alpha = ops.cast(log_alpha, "float32")
    return _kl_and_sigmoid(log_alpha, ops.softplus(-log_alpha))[0]


def total_kl_divergence(log_alpha):
    """The sum of `kl_divergence(log_alpha)` over every weight (a scalar).

    The training pass gets the same sum from `kernel_terms`, with its
    gradient; this is for reports and tests.
    """
    return ops.sum(kl_divergence(log_alpha))


def pruning_mask(log_alpha, threshold):
    """1.0 for a kept weight (log alpha < threshold), 0.0 for a pruned one."""
    return ops.cast(ops.less(log_alpha, threshold), "float32")


def pruned_kernel(kernel, log_sigma2, threshold):
    """`kernel` with its pruned weights zeroed (the deterministic pass).

    The same weights as `pruning_mask`, in fewer passes over the kernel: for
    -8 < threshold <= 8, clipping log alpha to [-8, 8] cannot change which
    side of the threshold a weight falls on, so the clip is skipped.
    """
    raw = _raw_log_alpha(ops.square(ops.cast(kernel, "float32")), log_sigma2)
    if not LOG_ALPHA_MIN < threshold <= LOG_ALPHA_MAX:
        raw = _clip(raw)
    return ops.where(ops.less(raw, threshold), kernel, 0.0)


# -- The training pass: kernel terms with a hand-written gradient -----------


def _forward(kernel, log_sigma2, threshold, train_clip):
    """The terms and what their gradient needs (float32 throughout)."""
    kernel_square = ops.square(kernel)
    raw_log_alpha = _raw_log_alpha(kernel_square, log_sigma2)
    log_alpha = _clip(raw_log_alpha)
    keep = ops.less(log_alpha, threshold)
    mean_kernel = ops.where(keep, kernel, 0.0) if train_clip else kernel
    alpha = ops.exp(log_alpha)
    variance_kernel = alpha * kernel_square
    # softplus(-log alpha) = log1p(1 / alpha): alpha is at hand and the clip
    # keeps 1 / alpha finite, so no softplus is needed.
    kl, sigmoid = _kl_and_sigmoid(log_alpha, ops.log1p(ops.reciprocal(alpha)))
    saved = dict(
        kernel=kernel,
        shifted_square=kernel_square + EPSILON,
        raw_log_alpha=raw_log_alpha,
        log_alpha=log_alpha,
        keep=keep,
        alpha=alpha,
        variance_kernel=variance_kernel,
        sigmoid=sigmoid,
    )
    return (mean_kernel, variance_kernel, ops.sum(kl)), saved


def _backward(
    upstream,
    train_clip,
    kernel,
    shifted_square,
    raw_log_alpha,
    log_alpha,
    keep,
    alpha,
    variance_kernel,
    sigmoid,
):
    """Gradients with respect to theta and log sigma^2.

    With q = theta^2, la = clip(log sigma^2 - log(q + eps), -8, 8),
    c = 1 inside the clip's range and 0 outside, V = exp(la) * q and
    dKL/dla = -k1 * k3 * s * (1 - s) - 0.5 / (1 + exp(la)), s the sigmoid:

        g_la     = g_V * V + g_KL * dKL/dla
        g_sigma2 = c * g_la
        g_theta  = g_M * keep
                   + 2 * theta * (g_V * exp(la) - g_sigma2 / (q + eps))
    """
    grad_mean, grad_variance, grad_kl = upstream
    sigmoid_slope = sigmoid * (1.0 - sigmoid)
    kl_slope = -K1 * K3 * sigmoid_slope - 0.5 / (1.0 + alpha)
    grad_log_alpha = grad_variance * variance_kernel + grad_kl * kl_slope
    inside_clip = ops.equal(raw_log_alpha, log_alpha)
    grad_log_sigma2 = ops.where(inside_clip, grad_log_alpha, 0.0)
    grad_kernel = 2.0 * kernel * (
        grad_variance * alpha - grad_log_sigma2 / shifted_square
    )
    if train_clip:
        grad_kernel = grad_kernel + ops.where(keep, grad_mean, 0.0)
    else:
        grad_kernel = grad_kernel + grad_mean
    return grad_kernel, grad_log_sigma2


def kernel_terms(kernel, log_sigma2, threshold, train_clip):
    """The mean's kernel, the variance's kernel and the summed KL.

    Written with autodiff these take about 45 element-wise passes over the
    kernel per step, softplus and the clip's gradient among the dearest; the
    hand-written backward (`_backward`) takes a dozen cheap passes and no
    transcendental function. Its values and gradients equal autodiff's within
    float32 rounding (`tests/test_variational_ops.py`).

    Args:
        kernel: theta.
        log_sigma2: log sigma^2, the kernel's shape.
        threshold: the log alpha at and above which a weight is pruned.
        train_clip: zero the pruned weights in the mean's kernel.

    Returns:
        `(mean_kernel, variance_kernel, kl)`: theta (masked when
        `train_clip`), sigma^2 = alpha * theta^2 and the summed KL
        divergence (a scalar), all float32.

    The dispatch: Keras's PyTorch `custom_gradient` takes a single output, so
    PyTorch differentiates the same forward computation with autograd.
    """
    kernel = ops.cast(kernel, "float32")
    log_sigma2 = ops.cast(log_sigma2, "float32")
    if keras.backend.backend() not in ("tensorflow", "jax"):
        return _forward(kernel, log_sigma2, threshold, train_clip)[0]

    @ops.custom_gradient
    def terms(kernel, log_sigma2):
        outputs, saved = _forward(kernel, log_sigma2, threshold, train_clip)

        def grad(*upstream, **kwargs):
            # TensorFlow passes one upstream gradient per output, JAX one
            # tuple for all of them.
            if len(upstream) == 1:
                upstream = upstream[0]
            return _backward(tuple(upstream), train_clip, **saved)

        return outputs, grad

    return terms(kernel, log_sigma2)


# -- Noise and sampling ------------------------------------------------------


def standard_normal(shape, seed):
    """N(0, 1) noise of `shape` (float32), drawn with `seed`.

    The dispatch: on TensorFlow the Box-Muller transform of uniforms, both of
    its outputs used: z1 = r cos(t), z2 = r sin(t) with
    r = sqrt(-2 log(1 - u1)) and t = 2 pi u2 (1 - u1 lies in (0, 1], so the
    log is finite). This is the transform TensorFlow's own sampler applies,
    at half its cost on CPU (for LeNet-5-Caffe's first convolution the noise
    was the largest single cost of the training step). Elsewhere the
    backend's normal sampler, which is already fast.

    Under a `tf.distribute` strategy with several replicas the replica's id
    is folded into the seed: the replicas share the seed generator's state,
    and would otherwise draw the same noise for their parts of the batch.
    """
    if keras.backend.backend() != "tensorflow":
        return keras.random.normal(shape, dtype="float32", seed=seed)
    size = math.prod(shape)
    half = (size + 1) // 2
    uniform = _tf_uniform((2, half), seed)
    radius = ops.sqrt(-2.0 * ops.log(1.0 - uniform[0]))
    angle = (2.0 * math.pi) * uniform[1]
    pairs = ops.concatenate(
        [radius * ops.cos(angle), radius * ops.sin(angle)], axis=0
    )
    return ops.reshape(pairs[:size], shape)


def _tf_uniform(shape, seed):
    """`keras.random.uniform` (TensorFlow), one stream per replica."""
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    if (
        replica is None
        or replica.num_replicas_in_sync == 1
        or not isinstance(seed, keras.random.SeedGenerator)
    ):
        return keras.random.uniform(shape, dtype="float32", seed=seed)
    state = tf.cast(tf.math.floormod(seed.next(), tf.int32.max - 1), "int32")
    state = tf.random.experimental.stateless_fold_in(
        state, replica.replica_id_in_sync_group
    )
    return tf.random.stateless_uniform(shape, seed=state, dtype="float32")


def sample(mean, variance, seed):
    """mean + sqrt(variance + 1e-8) * eps, eps ~ N(0, 1) per element."""
    std = ops.sqrt(ops.cast(variance, "float32") + EPSILON)
    noise = standard_normal(ops.shape(mean), seed)
    return mean + ops.cast(std * noise, mean.dtype)


def _sampling_kernels(kernel, log_sigma2, threshold, train_clip, dtype):
    """`kernel_terms` with the two kernels cast to `dtype`."""
    mean_kernel, variance_kernel, kl = kernel_terms(
        kernel, log_sigma2, threshold, train_clip
    )
    return ops.cast(mean_kernel, dtype), ops.cast(variance_kernel, dtype), kl


def sampled_output(
    x, kernel, log_sigma2, threshold, train_clip, linear, finish, seed
):
    """A sample of a variational layer's output, and its summed KL.

    The local reparameterization trick: `mean = linear(x, theta)` (theta
    masked when `train_clip`), `variance = linear(x^2, alpha theta^2)`,
    `finish(mean + sqrt(variance + 1e-8) * eps)`.

    Args:
        x: the inputs, in the compute dtype.
        kernel: theta (a variable or tensor).
        log_sigma2: log sigma^2, the kernel's shape.
        threshold: the log alpha at and above which a weight is pruned.
        train_clip: use the pruned kernel for the mean.
        linear: `linear(x, kernel)`, the layer's linear operation.
        finish: `finish(outputs)`, bias and activation.
        seed: the layer's `SeedGenerator`.

    Returns:
        `(outputs, kl)`, kl the layer's summed KL divergence (float32).
    """
    mean_kernel, variance_kernel, kl = _sampling_kernels(
        kernel, log_sigma2, threshold, train_clip, x.dtype
    )
    mean = linear(x, mean_kernel)
    variance = linear(ops.square(x), variance_kernel)
    return finish(sample(mean, variance, seed)), kl


def _concrete_bool(value):
    """`value` as a Python bool when it is concrete (eager), else None."""
    try:
        return bool(ops.convert_to_numpy(value))
    except Exception:  # noqa: BLE001  A tracer: JAX raises several types.
        return None


def inference(
    x, kernel, log_sigma2, threshold, train_clip, sampling, linear, finish, seed
):
    """A variational layer's output at inference: pruned mean, or a sample.

    Args:
        x: the inputs, in the compute dtype.
        kernel: theta (a variable or tensor).
        log_sigma2: log sigma^2, the kernel's shape.
        threshold: the log alpha at and above which a weight is pruned.
        train_clip: use the pruned kernel for the mean of a sample.
        sampling: a boolean scalar tensor, True to sample the weights (the
            layer's `sample_at_inference` variable > 0.5), chosen inside the
            compiled function.
        linear: `linear(x, kernel)`, the layer's linear operation.
        finish: `finish(outputs)`, bias and activation.
        seed: the layer's `SeedGenerator`.

    Returns:
        The layer's outputs.

    The dispatch, justified by the inference rows of `benchmarks/speed.py`:

    - TensorFlow and PyTorch: one `cond` whose branches hold the whole layer,
      bias and activation included. A `cond` between the linear operation
      and the bias keeps TensorFlow from fusing them (a third slower
      inference on LeNet-5-Caffe), and the deterministic branch computes
      log alpha without the clip, the KL or any noise.
    - JAX: the `cond`s choose only the kernels and the noise, and the mean's
      linear operation stays outside them. XLA optimizes a model whole; a
      convolution inside a `cond` is cut off from that and made LeNet-5's
      deterministic inference 4.4x the dense model's on CPU. The seed is
      drawn outside the `cond`: a traced branch may not advance the
      generator's state.
    """

    def pruned():
        return pruned_kernel(ops.cast(kernel, x.dtype), log_sigma2, threshold)

    def kernels():
        return _sampling_kernels(
            kernel, log_sigma2, threshold, train_clip, x.dtype
        )[:2]

    def sampled():
        return sampled_output(
            x, kernel, log_sigma2, threshold, train_clip, linear, finish, seed
        )[0]

    if keras.backend.backend() != "jax":
        return ops.cond(sampling, sampled, lambda: finish(linear(x, pruned())))

    concrete = _concrete_bool(sampling)
    if concrete is not None:
        # An eager call: a Python branch. JAX compiles an eager `cond` anew
        # for every call (its branches are new closures each time), which
        # took 1-3 s per call of a layer.
        return sampled() if concrete else finish(linear(x, pruned()))

    seed = seed.next()
    # One cond for both kernels, so that sampling computes them once;
    # deterministic, the variance kernel is a placeholder never used.
    mean_kernel, variance_kernel = ops.cond(
        sampling, kernels, lambda: (pruned(), ops.cast(kernel, x.dtype))
    )
    mean = linear(x, mean_kernel)

    def noise():
        variance = linear(ops.square(x), variance_kernel)
        return sample(ops.zeros_like(mean), variance, seed)

    return finish(
        mean + ops.cond(sampling, noise, lambda: ops.zeros_like(mean))
    )
