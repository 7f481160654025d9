import numpy as np
import keras
import pytest

from keras_svd.layers import PermaDropout
from tests.layer_test_case import run_layer_test


def test_layer_contract():
    run_layer_test(
        PermaDropout,
        {"rate": 0.5, "noise_shape": None, "seed": 3},
        input_shape=(4, 6),
        expected_output_shape=(4, 6),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_losses=0,
    )


def _sequential():
    return keras.Sequential(
        [keras.Input((200,)), PermaDropout(0.5, seed=1)]
    )


def _functional():
    inputs = keras.Input((200,))
    outputs = PermaDropout(0.5, seed=1)(inputs, training=False)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("build", [_sequential, _functional])
def test_stochastic_under_every_inference_entry_point(build):
    model = build()
    x = np.ones((8, 200), "float32")
    outputs = [
        model.predict(x, verbose=0),
        model.predict(x, verbose=0),
        keras.ops.convert_to_numpy(model(x)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=True)),
    ]
    for i, a in enumerate(outputs):
        # Every output drops something and keeps something.
        assert 0 < np.mean(a == 0) < 1
        for b in outputs[i + 1 :]:
            assert not np.array_equal(a, b), "two calls gave the same mask"


def test_integer_seed_still_gives_fresh_masks():
    layer = PermaDropout(0.3, seed=42)
    x = np.ones((4, 100), "float32")
    masks = [keras.ops.convert_to_numpy(layer(x)) != 0 for _ in range(5)]
    assert len({m.tobytes() for m in masks}) == 5


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_kept_fraction_and_expected_value(rate):
    layer = PermaDropout(rate)
    x = np.full((200, 1000), 2.0, "float32")
    y = keras.ops.convert_to_numpy(layer(x, training=False))
    kept = np.mean(y != 0)
    # 200,000 Bernoulli draws: std of the kept fraction < 0.0012.
    assert abs(kept - (1 - rate)) < 0.01
    np.testing.assert_allclose(y[y != 0], 2.0 / (1 - rate), rtol=1e-6)
    # Expected value preserved: the mean of y estimates 2.0.
    assert abs(y.mean() - 2.0) < 0.05 * 2.0 / (1 - rate) ** 0.5


def test_zero_rate_is_identity():
    x = np.arange(12, dtype="float32").reshape(3, 4)
    y = PermaDropout(0.0)(x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(y), x)


def test_noise_shape_shares_the_mask():
    layer = PermaDropout(0.5, noise_shape=(None, 1, 8))
    x = np.ones((5, 6, 8), "float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert np.all(y == y[:, :1, :])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rate": 1.0}, r"rate must be in \[0, 1\). Received: rate=1.0"),
        ({"rate": 1.5}, r"Received: rate=1.5"),
        ({"rate": -0.1}, r"Received: rate=-0.1"),
        ({"rate": float("nan")}, r"Received: rate=nan"),
        ({"rate": "0.5"}, r"Received: rate='0.5'"),
        ({"rate": True}, r"Received: rate=True"),
        ({"rate": 0.5, "seed": 1.5}, r"Received: seed=1.5"),
        ({"rate": 0.5, "noise_shape": "abc"}, r"noise_shape"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PermaDropout(**kwargs)
