"""A layer written outside the package works with every utility."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_svd
from keras_svd.layers import BaseVariational
from keras_svd.layers import VariationalProtocol


@keras.saving.register_keras_serializable(package="keras_svd_tests")
class VariationalConv1D(BaseVariational):
    """A user's own variational layer: Conv1D ('valid', stride 1)."""

    plain_layer_class = keras.layers.Conv1D

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.input_spec = keras.InputSpec(ndim=3)

    def compute_kernel_shape(self, input_shape):
        return (self.kernel_size, input_shape[-1], self.filters)

    def linear_op(self, inputs, kernel):
        return ops.conv(inputs, kernel)

    def compute_output_shape(self, input_shape):
        steps = input_shape[1] - self.kernel_size + 1
        return (input_shape[0], steps, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
        }


class HalfVariational(keras.layers.Layer):
    """Has the reporting methods of the protocol, not the others."""

    threshold = 3.0

    def log_alpha(self):
        return ops.zeros((2,))

    def kl_divergence(self):
        return ops.zeros(())

    def pruning_mask(self):
        return ops.ones((2,))

    def call(self, inputs):
        return inputs


def _model():
    return keras.Sequential(
        [
            keras.Input((20, 3)),
            VariationalConv1D(4, 3, activation="relu", name="conv1d"),
            keras.layers.Flatten(),
            keras_svd.layers.VariationalDense(2, name="logits"),
        ]
    )


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 20, 3)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int32")
    return x, y


def test_custom_layer_implements_the_protocol():
    layer = VariationalConv1D(4, 3)
    assert isinstance(layer, VariationalProtocol)
    assert keras_svd.layers.is_variational(layer)
    model = _model()
    names = [layer.name for layer in keras_svd.variational_layers(model)]
    assert names == ["conv1d", "logits"]


def test_custom_layer_trains_with_the_callbacks_and_sparsifies():
    model = _model()
    x, y = _data()
    assert keras_svd.set_num_train_examples(model, len(x))
    model.compile(
        keras.optimizers.Adam(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=4,
        verbose=0,
        callbacks=[
            keras_svd.callbacks.KLAnnealing(
                keras_svd.schedules.LinearWarmup(0, 2)
            ),
            keras_svd.callbacks.SparsityMonitor(),
        ],
    ).history
    assert history["kl_weight"] == [0.0, 0.5, 1.0, 1.0]
    assert all(np.isfinite(history["kl"])) and history["kl"][0] > 0
    assert "sparsity/conv1d" in history
    assert history["sparsity"][-1] > history["sparsity"][0]


def test_custom_layer_reports_exact_sparsity():
    model = _model()
    layer = model.get_layer("conv1d")
    log_sigma2 = np.full(layer.kernel.shape, -10.0, "float32")
    log_sigma2[0] = 8.0  # the first tap: 3 * 4 = 12 weights pruned
    layer.kernel.assign(np.full(layer.kernel.shape, 0.5, "float32"))
    layer.log_sigma2.assign(log_sigma2)
    rows = {row["layer"]: row for row in keras_svd.sparsity_report(model)}
    assert rows["conv1d"]["weights"] == 36
    assert rows["conv1d"]["kept"] == 24
    total = 36 + rows["logits"]["weights"]
    assert keras_svd.compression_ratio(model) == pytest.approx(
        total / (24 + rows["logits"]["kept"])
    )


def test_custom_layer_samples_in_mc_predict_and_strips_exactly():
    model = _model()
    layer = model.get_layer("conv1d")
    layer.log_sigma2.assign(np.full(layer.kernel.shape, -1.0, "float32"))
    x, _ = _data(8)
    deterministic = model.predict(x, verbose=0)
    sampled = keras_svd.mc_predict(model, x, samples=4, return_samples=True)
    assert not np.allclose(sampled.samples[0], sampled.samples[1])
    fixed = keras_svd.mc_predict(model, x, samples=2, sample_weights=False)
    np.testing.assert_allclose(
        fixed.mean,
        ops.convert_to_numpy(ops.softmax(deterministic)),
        rtol=1e-5,
        atol=1e-6,
    )
    stripped = keras_svd.strip_variational(model)
    assert type(stripped.get_layer("conv1d")) is keras.layers.Conv1D
    np.testing.assert_allclose(
        stripped.predict(x, verbose=0), deterministic, rtol=1e-5, atol=1e-5
    )


def test_custom_layer_saves_and_loads(tmp_path):
    model = _model()
    keras_svd.set_num_train_examples(model, 100)
    x, _ = _data(4)
    path = tmp_path / "custom.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("conv1d")) is VariationalConv1D
    assert loaded.get_layer("conv1d").num_train_examples == 100
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )


def test_partial_protocol_names_the_missing_members():
    model = keras.Sequential([keras.Input((2,)), HalfVariational()])
    assert not keras_svd.layers.is_variational(model.layers[0])
    with pytest.raises(ValueError, match="lacks set_num_train_examples"):
        keras_svd.set_num_train_examples(model, 10)
    with pytest.raises(ValueError, match="kl_log_variable, deterministic"):
        keras_svd.variational_layers(model)


def test_unbuilt_layer_has_no_sampling_variable_yet():
    layer = VariationalConv1D(4, 3)
    with pytest.raises(ValueError, match="is not built"):
        layer.sampling_variable()
    with pytest.raises(ValueError, match="is not built"):
        keras_svd.set_weight_sampling(keras.Sequential([layer]), True)
