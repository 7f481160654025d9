import keras
import numpy as np
import pytest

import keras_svd
from keras_svd.sampling import sampling_mode
from keras_svd.sampling import set_weight_sampling


def _flags(model):
    return [
        float(keras.ops.convert_to_numpy(layer.sample_at_inference.value))
        for layer in keras_svd.variational_layers(model)
    ]


def _model():
    inner = keras.Sequential(
        [
            keras.Input((6,)),
            keras_svd.layers.VariationalDense(5, log_sigma2_init=-2.0),
        ],
        name="inner",
    )
    return keras.Sequential(
        [
            keras.Input((4, 4, 1)),
            keras_svd.layers.VariationalConv2D(2, 3, log_sigma2_init=-2.0),
            keras.layers.Flatten(),
            keras.layers.Dense(6),
            inner,
        ]
    )


def test_sampling_mode_switches_nested_layers_and_restores_each_value():
    model = _model()
    layers = keras_svd.variational_layers(model)
    layers[1].sample_at_inference.assign(1.0)
    assert _flags(model) == [0.0, 1.0]
    with sampling_mode(model) as switched:
        assert switched == layers
        assert _flags(model) == [1.0, 1.0]
        with sampling_mode(model, enabled=False):
            assert _flags(model) == [0.0, 0.0]
        assert _flags(model) == [1.0, 1.0]
    assert _flags(model) == [0.0, 1.0]


def test_sampling_mode_restores_after_an_exception():
    model = _model()
    with pytest.raises(RuntimeError):
        with sampling_mode(model):
            raise RuntimeError("boom")
    assert _flags(model) == [0.0, 0.0]


def test_compiled_predict_follows_the_switch_without_retracing():
    model = _model()
    x = np.random.default_rng(0).random((8, 4, 4, 1), dtype=np.float32)
    first = model.predict(x, verbose=0)  # Traced with the switch off.
    with sampling_mode(model):
        a = model.predict(x, verbose=0)
        b = model.predict(x, verbose=0)
    after = model.predict(x, verbose=0)
    assert not np.allclose(a, b)
    assert not np.allclose(a, first)
    np.testing.assert_array_equal(first, after)


def test_compiled_predict_samples_with_the_local_reparameterization_moments():
    layer = keras_svd.layers.VariationalDense(
        2, num_train_examples=1, train_clip=True
    )
    model = keras.Sequential([keras.Input((1,)), layer])
    layer.kernel.assign(np.array([[1.0, -2.0]], "float32"))
    layer.log_sigma2.assign(np.log(np.array([[0.25, 5000.0]], "float32")))
    layer.bias.assign(np.array([0.5, 0.0], "float32"))
    ones = np.ones((20000, 1), "float32")
    with sampling_mode(model):
        a = model.predict(ones, batch_size=20000, verbose=0)
        b = model.predict(ones, batch_size=20000, verbose=0)
    assert not np.allclose(a, b)
    # Unit 0: mean theta + bias = 1.5, variance sigma^2 = 0.25. Unit 1:
    # log alpha = log(5000 / 4) = 7.1 > 3, so pruned from the mean
    # (train_clip), with variance alpha * theta^2 = sigma^2 = 5000. Means
    # within 6 standard errors; the sample variance's relative standard
    # deviation is sqrt(2 / n) = 1%, so 5% is 5 of them.
    std_error = np.sqrt(np.array([0.25, 5000.0]) / len(ones))
    np.testing.assert_array_less(np.abs(a.mean(0) - [1.5, 0.0]), 6 * std_error)
    np.testing.assert_allclose(a.var(0), [0.25, 5000.0], rtol=0.05)
    # Back to the deterministic masked product.
    np.testing.assert_allclose(
        model.predict(ones[:4], verbose=0), [[1.5, 0.0]] * 4, atol=1e-6
    )


def test_set_weight_sampling_returns_the_switched_layers():
    model = _model()
    layers = set_weight_sampling(model, True)
    assert [layer.name for layer in layers] == [
        layer.name for layer in keras_svd.variational_layers(model)
    ]
    assert _flags(model) == [1.0, 1.0]
    set_weight_sampling(model, False)
    assert _flags(model) == [0.0, 0.0]


def test_model_without_variational_layers_is_left_alone():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with sampling_mode(model) as layers:
        assert layers == []
    assert set_weight_sampling(model, True) == []


def test_unbuilt_model_raises_a_clear_error():
    model = keras.Sequential([keras_svd.layers.VariationalDense(3)])
    with pytest.raises(ValueError, match="not built"):
        with sampling_mode(model):
            pass


@pytest.mark.parametrize("enabled", [1, "yes", None])
def test_enabled_must_be_a_bool(enabled):
    with pytest.raises(ValueError, match="Received: enabled="):
        set_weight_sampling(_model(), enabled)
    with pytest.raises(ValueError, match="Received: enabled="):
        with sampling_mode(_model(), enabled=enabled):
            pass
