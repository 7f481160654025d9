import numpy as np
import keras
import pytest

import keras_svd
from keras_svd.layers import PermaDropout
from keras_svd.layers import VariationalConv2D
from keras_svd.layers import VariationalDense


def _nested_model():
    inner = keras.Sequential(
        [keras.Input((6,)), VariationalDense(4, name="inner_dense")],
        name="inner",
    )
    inputs = keras.Input((8, 8, 1))
    x = VariationalConv2D(2, 3, name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, name="plain")(x)
    x = inner(x)
    x = PermaDropout(0.5)(x)
    outputs = VariationalDense(3, name="head")(x)
    return keras.Model(inputs, outputs)


def test_variational_layers_recurses_into_nested_models():
    names = [layer.name for layer in keras_svd.variational_layers(_nested_model())]
    assert names == ["conv", "inner_dense", "head"]


def test_four_name_layer_is_told_what_the_protocol_lacks():
    # The protocol of release 0.1.0 had four names; a layer with only those
    # would pass `variational_layers`, then fail in `set_kl_weight` with an
    # AttributeError. Now every utility says what is missing.
    class Custom(keras.layers.Layer):
        threshold = 3.0

        def log_alpha(self):
            return keras.ops.array([[0.0, 5.0]])

        def kl_divergence(self):
            return keras.ops.array(0.0)

        def pruning_mask(self):
            return keras.ops.array([[1.0, 0.0]])

    model = keras.Sequential([keras.Input((2,)), Custom()])
    for utility in (
        keras_svd.variational_layers,
        keras_svd.compression_ratio,
        lambda m: keras_svd.set_kl_weight(m, 1.0),
        lambda m: keras_svd.set_weight_sampling(m, True),
    ):
        with pytest.raises(ValueError, match="lacks set_num_train_examples"):
            utility(model)


def test_set_num_train_examples_and_kl_weight_reach_every_layer():
    model = _nested_model()
    layers = keras_svd.set_num_train_examples(model, 1234)
    keras_svd.set_kl_weight(model, 0.25)
    assert len(layers) == 3
    for layer in layers:
        assert layer.num_train_examples == 1234
        np.testing.assert_allclose(
            layer.inv_num_train_examples.numpy(), 1 / 1234, rtol=1e-6
        )
        assert layer.kl_weight_variable.numpy() == 0.25


@pytest.mark.parametrize("n", [0, -5, 2.5, "100", True, None])
def test_set_num_train_examples_rejects_bad_n(n):
    model = _nested_model()
    with pytest.raises(ValueError, match=r"Received: num_train_examples="):
        keras_svd.set_num_train_examples(model, n)


@pytest.mark.parametrize("beta", [-0.1, float("nan"), "1"])
def test_set_kl_weight_rejects_bad_beta(beta):
    with pytest.raises(ValueError, match=r"Received: kl_weight="):
        keras_svd.set_kl_weight(_nested_model(), beta)


def test_utilities_reject_a_model_without_variational_layers():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="no variational layer"):
        keras_svd.set_num_train_examples(model, 10)
    with pytest.raises(ValueError, match="no variational layer"):
        keras_svd.set_kl_weight(model, 1.0)
