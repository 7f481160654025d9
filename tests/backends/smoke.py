"""Runs under any KERAS_BACKEND: the layers, callbacks and utilities end to end.

Used by tests/test_backends.py in a subprocess per backend; exits non-zero on
the first failed check.
"""

import sys

import numpy as np
import keras

import keras_svd


def main():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras_svd.layers.VariationalConv2D(
                4, 3, activation="relu", train_clip=True
            ),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras_svd.layers.VariationalDense(16, activation="relu"),
            keras_svd.layers.PermaDropout(0.5),
            keras_svd.layers.VariationalDense(3),
        ]
    )
    keras_svd.set_num_train_examples(model, 128)
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    x = rng.random((128, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, 128)
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=3,
        verbose=0,
        callbacks=[
            keras_svd.callbacks.KLAnnealing(keras_svd.schedules.LinearWarmup(0, 2)),
            keras_svd.callbacks.SparsityMonitor(),
        ],
    ).history
    assert history["kl_weight"] == [0.0, 0.5, 1.0], history["kl_weight"]
    assert np.all(np.isfinite(history["loss"]))
    assert history["sparsity"][-1] > history["sparsity"][0]
    # The KL term is in the loss: beta = 1 adds sum(KL) / N, which dwarfs
    # the NLL here.
    assert history["loss"][2] > 10 * history["loss"][0]

    # PermaDropout stays stochastic under predict.
    a, b = model.predict(x[:8], verbose=0), model.predict(x[:8], verbose=0)
    assert not np.allclose(a, b)

    # Variational inference is the exact masked product.
    dense = model.layers[-1]
    kernel = keras.ops.convert_to_numpy(dense.kernel)
    mask = keras.ops.convert_to_numpy(dense.pruning_mask())
    bias = keras.ops.convert_to_numpy(dense.bias)
    h = rng.random((5, 16)).astype("float32")
    out = keras.ops.convert_to_numpy(dense(h, training=False))
    np.testing.assert_allclose(out, h @ (kernel * mask) + bias, rtol=1e-5, atol=1e-6)

    # Weight sampling at inference (the variable switch), inside a compiled
    # predict: fresh samples per call with the local reparameterization's
    # moments, and back to the masked product afterwards.
    layer = keras_svd.layers.VariationalDense(
        2, num_train_examples=1, train_clip=True
    )
    probe = keras.Sequential([keras.Input((1,)), layer])
    layer.kernel.assign(np.array([[1.0, -2.0]], "float32"))
    layer.log_sigma2.assign(np.log(np.array([[0.25, 5000.0]], "float32")))
    layer.bias.assign(np.array([0.5, 0.0], "float32"))  # 2nd unit pruned
    ones = np.ones((20000, 1), "float32")
    with keras_svd.sampling_mode(probe):
        s1 = probe.predict(ones, batch_size=20000, verbose=0)
        s2 = probe.predict(ones, batch_size=20000, verbose=0)
    assert not np.allclose(s1, s2)
    # Unit 0: mean 1 + 0.5, variance sigma^2 = 0.25 (alpha = 0.25).
    # Unit 1: log alpha = log(5000 / 4) = 7.1 > 3, so pruned from the mean
    # (train_clip), and variance alpha * theta^2 = sigma^2 = 5000.
    np.testing.assert_allclose(s1.mean(0)[0], 1.5, atol=0.02)
    np.testing.assert_allclose(s1.var(0)[0], 0.25, rtol=0.05)
    np.testing.assert_allclose(s1.var(0)[1], 5000.0, rtol=0.05)
    np.testing.assert_allclose(s1.mean(0)[1], 0.0, atol=2.0)
    np.testing.assert_allclose(
        probe.predict(ones[:4], verbose=0), [[1.5, 0.0]] * 4, atol=1e-6
    )
    result = keras_svd.mc_predict(model, x[:16], samples=8)
    assert result.mean.shape == (16, 3)
    assert np.all(result.mutual_information > 0)

    report = keras_svd.sparsity_report(model)
    assert [r["weights"] for r in report] == [36, 100 * 16, 48], report
    check_kernel_terms_gradient()
    print(keras.backend.backend(), "ok", history["sparsity"])


def _gradient(loss, kernel, log_sigma2):
    """d loss / d (kernel, log_sigma2) with the backend's autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.grad(loss, argnums=(0, 1))(kernel, log_sigma2)
    if backend == "torch":
        import torch

        k = torch.tensor(kernel, requires_grad=True)
        s = torch.tensor(log_sigma2, requires_grad=True)
        loss(k, s).backward()
        return k.grad, s.grad
    import tensorflow as tf

    k, s = tf.Variable(kernel), tf.Variable(log_sigma2)
    with tf.GradientTape() as tape:
        value = loss(k, s)
    return tape.gradient(value, [k, s])


def check_kernel_terms_gradient():
    """The hand-written gradient of the kernel terms equals autodiff's."""
    from keras import ops

    from keras_svd import kl as kl_lib
    from keras_svd.layers import lrt

    rng = np.random.default_rng(2)
    kernel = rng.normal(0.0, 0.3, (30, 20)).astype("float32")
    log_sigma2 = (
        np.log(kernel**2 + 1e-8) + rng.uniform(-12, 12, kernel.shape)
    ).astype("float32")
    up_mean = rng.normal(size=kernel.shape).astype("float32")
    up_variance = rng.normal(size=kernel.shape).astype("float32")

    def reference(k, s, threshold, train_clip):
        log_alpha = kl_lib.clipped_log_alpha(k, s)
        mean = ops.where(ops.less(log_alpha, threshold), k, 0.0)
        variance = ops.exp(log_alpha) * ops.square(k)
        return mean, variance, kl_lib.total_kl_divergence(log_alpha)

    def objective(terms):
        def loss(k, s):
            mean, variance, kl = terms(k, s, 3.0, True)
            return (
                ops.sum(mean * ops.convert_to_tensor(up_mean))
                + ops.sum(variance * ops.convert_to_tensor(up_variance))
                + 0.37 * kl
            )

        return loss

    got = _gradient(objective(lrt.kernel_terms), kernel, log_sigma2)
    want = _gradient(objective(reference), kernel, log_sigma2)
    for g, w in zip(got, want):
        g, w = ops.convert_to_numpy(g), ops.convert_to_numpy(w)
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5 * np.abs(w).max())


if __name__ == "__main__":
    sys.exit(main())
