"""The per-step terms of the local reparameterization trick, made cheap.

Two helpers for the training pass of the variational layers:

- `kernel_terms`: from theta and log sigma^2, the mean's kernel, the
  variance's kernel and the summed KL, with a hand-written gradient. Written
  with autodiff these take about 45 element-wise passes over the kernel per
  step, softplus and the clip's gradient among the dearest; the hand-written
  backward takes a dozen cheap passes and no transcendental function.
- `standard_normal`: the noise of the sampled pre-activations. TensorFlow's
  CPU normal sampler costs twice its uniform sampler; drawing uniforms and
  using both outputs of the Box-Muller transform halves the cost of the
  noise, which for LeNet-5-Caffe's first convolution (1.15 million outputs
  per batch) was the largest single cost of the training step.

Both compute what the straightforward code computes: the values and
gradients equal autodiff's within float32 rounding, and the noise is N(0, 1)
by the transform TensorFlow's sampler uses (`tests/test_lrt.py`).
"""

import math

import keras
from keras import ops

from keras_svd import kl as kl_lib


def _forward(kernel, log_sigma2, threshold, train_clip):
    """The terms and what their gradient needs (float32 throughout)."""
    kernel_square = ops.square(kernel)
    shifted_square = kernel_square + kl_lib.EPSILON
    raw_log_alpha = log_sigma2 - ops.log(shifted_square)
    log_alpha = ops.clip(
        raw_log_alpha, kl_lib.LOG_ALPHA_MIN, kl_lib.LOG_ALPHA_MAX
    )
    keep = ops.less(log_alpha, threshold)
    mean_kernel = ops.where(keep, kernel, 0.0) if train_clip else kernel
    alpha = ops.exp(log_alpha)
    variance_kernel = alpha * kernel_square
    # KL per weight: k1 - k1 * sigmoid(k3 * log_alpha + k2)
    #                + 0.5 * softplus(-log_alpha),
    # with softplus(-log_alpha) = log1p(1 / alpha): alpha is at hand and the
    # clip to [-8, 8] keeps 1 / alpha finite, so no softplus is needed.
    sigmoid = ops.sigmoid(kl_lib.K3 * log_alpha + kl_lib.K2)
    size = ops.cast(ops.size(log_alpha), "float32")
    kl = (
        kl_lib.K1 * size
        - kl_lib.K1 * ops.sum(sigmoid)
        + 0.5 * ops.sum(ops.log1p(ops.reciprocal(alpha)))
    )
    saved = dict(
        kernel=kernel,
        shifted_square=shifted_square,
        raw_log_alpha=raw_log_alpha,
        log_alpha=log_alpha,
        keep=keep,
        alpha=alpha,
        variance_kernel=variance_kernel,
        sigmoid=sigmoid,
    )
    return (mean_kernel, variance_kernel, kl), saved


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
    kl_slope = -kl_lib.K1 * kl_lib.K3 * sigmoid_slope - 0.5 / (1.0 + alpha)
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

    Args:
        kernel: theta, float32.
        log_sigma2: log sigma^2, float32, the kernel's shape.
        threshold: the log alpha above which a weight is pruned (a float).
        train_clip: zero the pruned weights in the mean's kernel.

    Returns:
        `(mean_kernel, variance_kernel, kl)`: theta (masked when
        `train_clip`), sigma^2 = exp(clipped log alpha) * theta^2 and the
        summed KL divergence (a scalar), all float32.

    The gradient is hand-written on TensorFlow and JAX. Keras's PyTorch
    `custom_gradient` takes a single output, so PyTorch differentiates the
    same forward computation with autograd.
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


def standard_normal(shape, seed):
    """N(0, 1) noise of `shape` (float32), drawn with `seed`.

    On TensorFlow the Box-Muller transform of uniforms, both of its outputs
    used: z1 = r cos(t), z2 = r sin(t) with r = sqrt(-2 log(1 - u1)) and
    t = 2 pi u2 (1 - u1 lies in (0, 1], so the log is finite). This is the
    transform TensorFlow's own sampler applies, at half its cost on CPU.
    Elsewhere the backend's normal sampler, which is already fast.
    """
    if keras.backend.backend() != "tensorflow":
        return keras.random.normal(shape, dtype="float32", seed=seed)
    size = math.prod(shape)
    half = (size + 1) // 2
    uniform = keras.random.uniform((2, half), dtype="float32", seed=seed)
    radius = ops.sqrt(-2.0 * ops.log(1.0 - uniform[0]))
    angle = (2.0 * math.pi) * uniform[1]
    pairs = ops.concatenate(
        [radius * ops.cos(angle), radius * ops.sin(angle)], axis=0
    )
    return ops.reshape(pairs[:size], shape)
