"""The Sparse Variational Dropout KL term, shared by every variational layer.

Molchanov, Ashukha & Vetrov, "Variational Dropout Sparsifies Deep Neural
Networks" (ICML 2017), eq. (14): with the log-uniform prior p(|w|) ~ 1/|w| and
the posterior q(w) = N(theta, alpha * theta^2),

    -KL(q || p) ~= k1 * sigmoid(k2 + k3 * log_alpha)
                   - 0.5 * softplus(-log_alpha) - k1

with k1 = 0.63576, k2 = 1.87320, k3 = 1.48695. The constant -k1 makes the
divergence tend to 0 as alpha -> infinity.
"""

from keras import ops

K1 = 0.63576
K2 = 1.87320
K3 = 1.48695

LOG_ALPHA_MIN = -8.0
LOG_ALPHA_MAX = 8.0
EPSILON = 1e-8


def clipped_log_alpha(kernel, log_sigma2):
    """Returns clip(log_sigma2 - log(kernel^2 + 1e-8), -8, 8) in float32.

    Args:
        kernel: the posterior means theta.
        log_sigma2: the posterior log variances, same shape as `kernel`.

    Returns:
        The clipped log alpha, float32, the kernel's shape.
    """
    return log_alpha_from_square(
        ops.square(ops.cast(kernel, "float32")), log_sigma2
    )


def log_alpha_from_square(kernel_square, log_sigma2, clip=True):
    """`clipped_log_alpha` from theta^2 (float32), for callers that reuse it.

    With `clip=False`, log_sigma2 - log(theta^2 + 1e-8) unclipped.
    """
    log_alpha = ops.cast(log_sigma2, "float32") - ops.log(
        kernel_square + EPSILON
    )
    if not clip:
        return log_alpha
    return ops.clip(log_alpha, LOG_ALPHA_MIN, LOG_ALPHA_MAX)


def kl_divergence(log_alpha):
    """Per-weight KL(q || log-uniform prior), the paper's approximation.

    Args:
        log_alpha: tensor of log alpha values (already clipped by the layer).

    Returns:
        A tensor of the same shape with KL >= 0 per weight (float32).

    Example:

    ```python
    kl = keras_svd.kl.kl_divergence(keras.ops.array([-8.0, 0.0, 8.0]))
    # about [7.9, 0.25, 0.0003]: large for a precise weight, 0 for noise.
    ```
    """
    log_alpha = ops.cast(log_alpha, "float32")
    negative_kl = (
        K1 * ops.sigmoid(K2 + K3 * log_alpha)
        - 0.5 * ops.softplus(-log_alpha)
        - K1
    )
    return -negative_kl


def total_kl_divergence(log_alpha):
    """The sum of `kl_divergence(log_alpha)` over every weight (a scalar).

    Summed term by term, `size * k1 - k1 * sum(sigmoid(k2 + k3 * log_alpha))
    + 0.5 * sum(softplus(-log_alpha))`, which takes fewer passes over the
    weights than summing `kl_divergence` (this runs on every training step).
    """
    log_alpha = ops.cast(log_alpha, "float32")
    size = ops.cast(ops.size(log_alpha), "float32")
    return (
        K1 * size
        - K1 * ops.sum(ops.sigmoid(K3 * log_alpha + K2))
        + 0.5 * ops.sum(ops.softplus(-log_alpha))
    )


__all__ = [
    "K1",
    "K2",
    "K3",
    "clipped_log_alpha",
    "log_alpha_from_square",
    "kl_divergence",
    "total_kl_divergence",
]
