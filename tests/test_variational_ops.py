"""The math of `keras_svd.variational_ops`: the training pass's hand-written
gradient against autodiff and finite differences, and its noise."""

import math

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_svd import variational_ops as lrt
from keras_svd import variational_ops as kl_lib
from tests.gradients import value_and_gradients

# JAX computes in float32 unless x64 is switched on for the whole process.
FLOAT64 = keras.backend.backend() != "jax"


def _reference(kernel, log_sigma2, threshold, train_clip):
    """The straightforward computation, differentiated by autodiff."""
    dtype = kernel.dtype
    log_alpha = ops.clip(
        ops.cast(log_sigma2, dtype) - ops.log(kernel**2 + 1e-8), -8.0, 8.0
    )
    mean = kernel
    if train_clip:
        mean = ops.where(log_alpha < threshold, kernel, 0.0)
    variance = ops.exp(log_alpha) * ops.square(kernel)
    negative_kl = (
        kl_lib.K1 * ops.sigmoid(kl_lib.K3 * log_alpha + kl_lib.K2)
        - 0.5 * ops.softplus(-log_alpha)
        - kl_lib.K1
    )
    return mean, variance, -ops.sum(negative_kl)


def _weights(shape=(40, 30), seed=0):
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0.0, 0.3, shape).astype("float32")
    # log alpha from about -14 to 14: both sides of the clip and of the
    # threshold; a few exact zeros in the kernel (log alpha clipped at 8).
    spread = rng.uniform(-14, 14, shape)
    log_sigma2 = (np.log(kernel**2 + 1e-8) + spread).astype("float32")
    kernel.flat[:5] = 0.0
    return kernel, log_sigma2


def _values_and_gradients(
    fn, kernel, log_sigma2, threshold, train_clip, dtype="float32"
):
    rng = np.random.default_rng(1)
    up_mean = ops.convert_to_tensor(rng.normal(size=kernel.shape), dtype)
    up_variance = ops.convert_to_tensor(rng.normal(size=kernel.shape), dtype)
    kernel = keras.Variable(kernel.astype(dtype), dtype=dtype)
    log_sigma2 = keras.Variable(log_sigma2.astype(dtype), dtype=dtype)
    outputs = {}

    def loss():
        mean, variance, kl = fn(kernel.value, log_sigma2.value, threshold, train_clip)
        outputs.update(mean=mean, variance=variance, kl=kl)
        return (
            ops.sum(mean * up_mean)
            + ops.sum(variance * up_variance)
            + 0.37 * kl
        )

    _, grads = value_and_gradients(loss, [kernel, log_sigma2])
    if keras.backend.backend() == "jax":  # traced values: evaluate again
        outputs = dict(
            zip(("mean", "variance", "kl"), fn(kernel.value, log_sigma2.value, threshold, train_clip))
        )
    values = [outputs["mean"], outputs["variance"], outputs["kl"], *grads]
    return [ops.convert_to_numpy(ops.stop_gradient(t)) for t in values]


@pytest.mark.parametrize("train_clip", [True, False])
@pytest.mark.parametrize("threshold", [3.0, -2.0])
def test_values_and_gradients_match_autodiff(train_clip, threshold):
    kernel, log_sigma2 = _weights()
    got = _values_and_gradients(
        lrt.kernel_terms, kernel, log_sigma2, threshold, train_clip
    )
    autodiff = _values_and_gradients(
        _reference, kernel, log_sigma2, threshold, train_clip
    )
    exact = _values_and_gradients(
        _reference,
        kernel,
        log_sigma2,
        threshold,
        train_clip,
        "float64" if FLOAT64 else "float32",
    )
    names = ["mean", "variance", "kl", "d kernel", "d log_sigma2"]
    for name, g, a, w in zip(names, got, autodiff, exact):
        assert np.all(np.isfinite(g)), name
        # Close to the float64 result (the kernel's gradient is a difference
        # of terms of up to ~1e3, so float32 leaves an absolute error)...
        np.testing.assert_allclose(
            g, w, rtol=1e-5, atol=2e-6 * np.abs(w).max(), err_msg=name
        )
        # ...and no further from it than float32 autodiff is.
        if FLOAT64:
            assert np.abs(g - w).max() <= 1.5 * np.abs(a - w).max() + 1e-7, name
    # Not vacuous: both sides of the clip contribute, and where log alpha
    # is clipped log sigma^2 gets no gradient.
    raw = log_sigma2 - np.log(kernel.astype("float64") ** 2 + 1e-8)
    clipped = np.abs(raw) > 8
    assert clipped.any() and (~clipped).any()
    assert np.all(got[4][clipped] == 0.0)
    assert np.all(got[4][~clipped] != 0.0)


def _objective64(kernel, log_sigma2):
    """sum(variance) + KL in float64, from the paper's formulas."""
    log_alpha = np.clip(log_sigma2 - np.log(kernel**2 + 1e-8), -8, 8)
    sigmoid = 1 / (1 + np.exp(-(kl_lib.K3 * log_alpha + kl_lib.K2)))
    kl = -(kl_lib.K1 * sigmoid - 0.5 * np.log1p(np.exp(-log_alpha)) - kl_lib.K1)
    return np.sum(np.exp(log_alpha) * kernel**2) + np.sum(kl)


def test_gradients_match_finite_differences():
    kernel, log_sigma2 = _weights((6, 5), seed=3)
    k_var, s_var = keras.Variable(kernel), keras.Variable(log_sigma2)

    def loss():
        _, variance, kl = lrt.kernel_terms(k_var.value, s_var.value, 3.0, False)
        return ops.sum(variance) + kl

    _, grads = value_and_gradients(loss, [k_var, s_var])
    d_kernel, d_log_sigma2 = [ops.convert_to_numpy(g) for g in grads]
    kernel, log_sigma2 = kernel.astype("float64"), log_sigma2.astype("float64")
    raw = log_sigma2 - np.log(kernel**2 + 1e-8)
    inside = (np.abs(raw) < 7.5) & (np.abs(kernel) > 1e-3)
    assert inside.sum() >= 5
    for index in zip(*np.nonzero(inside)):
        for which, grad in ((0, d_kernel), (1, d_log_sigma2)):
            arrays = [kernel, log_sigma2]
            h = 1e-5 * max(abs(arrays[which][index]), 1e-2)
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[which][index] += h
            minus[which][index] -= h
            numeric = (_objective64(*plus) - _objective64(*minus)) / (2 * h)
            np.testing.assert_allclose(
                grad[index], numeric, rtol=1e-3, atol=1e-4
            )


def test_extreme_weights_give_finite_gradients():
    kernel = np.array([[0.0, 1e-20, 1e6, -3.0]], "float32")
    log_sigma2 = np.array([[50.0, -50.0, 0.0, 1e4]], "float32")
    got = _values_and_gradients(lrt.kernel_terms, kernel, log_sigma2, 3.0, True)
    for value in got:
        assert np.all(np.isfinite(value))


def test_noise_is_standard_normal():
    shape = (1001, 7, 3)  # an odd size: one Box-Muller output is dropped
    z = ops.convert_to_numpy(
        lrt.standard_normal(shape, keras.random.SeedGenerator(3))
    )
    assert z.shape == shape and z.dtype == np.float32
    flat = z.ravel()
    assert abs(flat.mean()) < 4 / math.sqrt(flat.size)
    assert abs(flat.var() - 1.0) < 0.05
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    # The two halves (cosine and sine outputs) are uncorrelated.
    half = flat.size // 2
    assert abs(np.corrcoef(flat[:half], flat[half : 2 * half])[0, 1]) < 0.05
    # The same seed gives the same noise; the generator's next draw differs.
    generator = keras.random.SeedGenerator(3)
    draw = lambda: ops.convert_to_numpy(lrt.standard_normal(shape, generator))
    np.testing.assert_array_equal(z, draw())
    assert not np.allclose(z, draw())


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.function with an unknown batch size is TensorFlow's",
)
def test_noise_with_an_unknown_batch_size():
    import tensorflow as tf

    generator = keras.random.SeedGenerator(1)

    @tf.function(input_signature=[tf.TensorSpec((None, 5), tf.float32)])
    def noisy(x):
        return lrt.standard_normal(keras.ops.shape(x), generator)

    for batch in (1, 3, 400):
        z = noisy(tf.zeros((batch, 5))).numpy()
        assert z.shape == (batch, 5)
        assert np.all(np.isfinite(z))
    assert 0.9 < z.var() < 1.1
