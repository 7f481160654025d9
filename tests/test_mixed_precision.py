"""Mixed precision: LeNet-5-Caffe trains under mixed_float16 / mixed_bfloat16.

A few epochs on a slice of real MNIST: the losses stay finite, the sparsity
rises once the KL weight does, and what must not be half precision is not:
log sigma^2 (exp(12) is inf in float16), log alpha and the KL.
"""

import keras
import numpy as np
import pytest

import keras_svd
from keras_svd import datasets
from keras_svd import models


class _Sparsity(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.sparsity = []

    def on_epoch_end(self, epoch, logs=None):
        self.sparsity.append(keras_svd.measure_sparsity(self.model)["sparsity"])


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_lenet5_caffe_trains_in_mixed_precision(policy, mnist_dir):
    (x, y), _ = datasets.load_numpy("mnist", source_dir=mnist_dir)
    x, y = x[:3000], y[:3000]
    keras.config.set_dtype_policy(policy)
    model = models.lenet5_caffe(train_clip=True)
    keras_svd.set_num_train_examples(model, len(x))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    sparsity = _Sparsity()
    history = model.fit(
        x, y, batch_size=100, epochs=4, verbose=0,
        callbacks=[
            keras_svd.callbacks.KLAnnealing(
                keras_svd.schedules.LinearWarmup(0, 2)
            ),
            sparsity,
        ],
    )

    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)), losses
    assert np.all(np.isfinite(history.history["kl"])), history.history["kl"]
    assert sparsity.sparsity[-1] > sparsity.sparsity[0] + 0.05, sparsity.sparsity
    for layer in keras_svd.variational_layers(model):
        assert layer.compute_dtype == policy.split("_")[1]
        assert layer.kernel.dtype == "float32"
        assert layer.log_sigma2.dtype == "float32"
        assert keras.backend.standardize_dtype(layer.log_alpha().dtype) == (
            "float32"
        )
        kl = layer.kl_divergence()
        assert keras.backend.standardize_dtype(kl.dtype) == "float32"
        assert np.isfinite(keras.ops.convert_to_numpy(kl))
    outputs = model.predict(x[:200], verbose=0)
    assert np.all(np.isfinite(outputs))
