import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import keras_svd
from keras_svd.layers import PermaDropout
from keras_svd.mc_predict import MCPrediction
from keras_svd.mc_predict import mc_predict

NUM_CLASSES = 3


def _dropout_model(rate=0.5):
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras_svd.layers.PermaDropout(rate),
            keras.layers.Dense(NUM_CLASSES),
        ]
    )


def _variational_model():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras_svd.layers.VariationalDense(
                16, activation="relu", log_sigma2_init=-2.0
            ),
            keras_svd.layers.VariationalDense(NUM_CLASSES),
        ]
    )


def _inputs(n=10, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 6)).astype("float32")


@keras.saving.register_keras_serializable(package="keras_svd_tests")
class FixedRows(keras.layers.Layer):
    """Outputs row r of a fixed table for row r of its (tiled) input."""

    def __init__(self, table, **kwargs):
        super().__init__(**kwargs)
        self.table = np.asarray(table, "float32")

    def call(self, inputs):
        rows = ops.arange(ops.shape(inputs)[0])
        return ops.take(ops.convert_to_tensor(self.table), rows, axis=0)


def _fixed_samples_model(samples):
    """A model whose T passes over n inputs give exactly `samples` (T, n, C).

    Valid with one chunk and one batch: row t * n + i of the tiled batch is
    sample t of input i.
    """
    samples = np.asarray(samples, "float32")
    table = samples.reshape(-1, samples.shape[-1])
    return keras.Sequential([keras.Input((1,)), FixedRows(table)])


def test_outputs_have_documented_shapes_dtypes_and_ranges():
    result = mc_predict(
        _dropout_model(), _inputs(10), samples=6, return_samples=True
    )
    assert isinstance(result, MCPrediction)
    assert result.num_samples == 6
    assert result.samples.shape == (6, 10, NUM_CLASSES)
    for name in ("mean", "std"):
        assert getattr(result, name).shape == (10, NUM_CLASSES)
        assert getattr(result, name).dtype == np.float32
    for name in (
        "predictive_entropy",
        "expected_entropy",
        "mutual_information",
        "variation_ratio",
    ):
        assert getattr(result, name).shape == (10,)
        assert getattr(result, name).dtype == np.float32
    assert result.predicted_class.dtype == np.int64
    np.testing.assert_allclose(result.mean.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(result.samples.sum(-1), 1.0, atol=1e-5)
    assert np.all((result.mean >= 0) & (result.mean <= 1))
    assert np.all((result.std >= 0) & (result.std <= 0.5))
    log_c = math.log(NUM_CLASSES)
    for values in (result.predictive_entropy, result.expected_entropy):
        assert np.all((values >= 0) & (values <= log_c + 1e-6))
    assert np.all(result.mutual_information >= 0)
    assert np.all(
        result.mutual_information <= result.predictive_entropy + 1e-6
    )
    assert np.all(result.variation_ratio >= 0)
    assert np.all(result.variation_ratio <= 1 - 1 / NUM_CLASSES + 1e-6)
    np.testing.assert_array_equal(
        result.predicted_class, np.argmax(result.mean, -1)
    )
    assert mc_predict(_dropout_model(), _inputs(4), samples=2).samples is None


def test_statistics_equal_those_of_the_returned_samples():
    result = mc_predict(
        _dropout_model(), _inputs(7), samples=9, batch_size=3, chunk_size=4,
        return_samples=True,
    )
    p = result.samples.astype(np.float64)
    np.testing.assert_allclose(result.mean, p.mean(0), atol=1e-6)
    np.testing.assert_allclose(result.std, p.std(0), atol=1e-6)
    entropy = -np.sum(p * np.log(p), -1)
    np.testing.assert_allclose(
        result.expected_entropy, entropy.mean(0), atol=1e-5
    )
    votes = np.eye(NUM_CLASSES)[p.argmax(-1)].sum(0)
    np.testing.assert_allclose(
        result.variation_ratio, 1 - votes.max(-1) / 9, atol=1e-6
    )


def test_entropy_and_mutual_information_match_hand_computed_values():
    # Two samples of four inputs over two classes.
    samples = [
        [[1.0, 0.0], [0.5, 0.5], [0.9, 0.1], [0.8, 0.2]],
        [[0.0, 1.0], [0.5, 0.5], [0.5, 0.5], [0.8, 0.2]],
    ]
    result = mc_predict(
        _fixed_samples_model(samples),
        np.zeros((4, 1), "float32"),
        samples=2,
        from_logits=False,
    )
    ln = math.log
    h_mixed = -(0.7 * ln(0.7) + 0.3 * ln(0.3))
    h_09 = -(0.9 * ln(0.9) + 0.1 * ln(0.1))
    h_08 = -(0.8 * ln(0.8) + 0.2 * ln(0.2))
    # Input 0: two certain, contradicting samples: all epistemic.
    # Input 1: two identical uniform samples: all aleatoric.
    # Input 2: mean (0.7, 0.3). Input 3: identical samples.
    np.testing.assert_allclose(
        result.predictive_entropy, [ln(2), ln(2), h_mixed, h_08], atol=1e-6
    )
    np.testing.assert_allclose(
        result.expected_entropy, [0.0, ln(2), (h_09 + ln(2)) / 2, h_08],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        result.mutual_information,
        [ln(2), 0.0, h_mixed - (h_09 + ln(2)) / 2, 0.0],
        atol=1e-6,
    )
    # Ties go to the first class, as in argmax.
    np.testing.assert_allclose(result.variation_ratio, [0.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(result.std[0], [0.5, 0.5], atol=1e-7)
    np.testing.assert_array_equal(result.predicted_class, [0, 0, 0, 0])


def test_deterministic_model_has_zero_mutual_information():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8)(inputs)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = keras.layers.Dropout(0.5)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(hidden))
    x = _inputs(12)
    result = mc_predict(model, x, samples=5, batch_size=5)
    np.testing.assert_allclose(result.mutual_information, 0.0, atol=1e-6)
    np.testing.assert_allclose(result.std, 0.0, atol=1e-6)
    np.testing.assert_array_equal(result.variation_ratio, 0.0)
    expected = ops.convert_to_numpy(ops.softmax(model(x, training=False)))
    np.testing.assert_allclose(result.mean, expected, atol=1e-6)


def test_perma_dropout_samples_differ_within_and_between_calls():
    model = _dropout_model()
    x = _inputs(4)
    first = mc_predict(model, x, samples=5, return_samples=True).samples
    second = mc_predict(model, x, samples=5, return_samples=True).samples
    for t in range(1, 5):
        assert not np.allclose(first[0], first[t])
    assert not np.allclose(first, second)


def test_variational_layers_are_sampled_only_with_sample_weights():
    model = _variational_model()
    x = _inputs(5)
    sampled = mc_predict(model, x, samples=4, return_samples=True)
    assert not np.allclose(sampled.samples[0], sampled.samples[1])
    assert np.all(sampled.std.max(-1) > 0)
    mean_only = mc_predict(model, x, samples=4, sample_weights=False)
    np.testing.assert_allclose(mean_only.std, 0.0, atol=1e-6)
    expected = ops.convert_to_numpy(ops.softmax(model.predict(x, verbose=0)))
    np.testing.assert_allclose(mean_only.mean, expected, atol=1e-5)
    # The switch is restored: still deterministic afterwards.
    for layer in keras_svd.variational_layers(model):
        flag = ops.convert_to_numpy(layer.sample_at_inference.value)
        assert float(flag) == 0.0
    # sample_weights=False wins over a switch left on, which is restored.
    layer = keras_svd.variational_layers(model)[0]
    layer.sample_at_inference.assign(1.0)
    forced = mc_predict(model, x, samples=3, sample_weights=False)
    np.testing.assert_allclose(forced.std, 0.0, atol=1e-6)
    assert float(ops.convert_to_numpy(layer.sample_at_inference.value)) == 1.0


def test_batch_norm_moving_statistics_are_unchanged():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras_svd.layers.PermaDropout(0.3),
            keras.layers.Dense(NUM_CLASSES),
        ]
    )
    bn = model.layers[1]
    bn.moving_mean.assign(np.full((8,), 0.3, "float32"))
    bn.moving_variance.assign(np.full((8,), 2.0, "float32"))
    before = [ops.convert_to_numpy(w.value).copy() for w in bn.weights]
    mc_predict(model, _inputs(20) * 5 + 3, samples=8, chunk_size=3)
    for old, new in zip(before, bn.weights):
        np.testing.assert_array_equal(old, ops.convert_to_numpy(new.value))


def test_chunked_and_unchunked_results_agree_in_distribution():
    model = _dropout_model(rate=0.5)
    x = _inputs(6)
    samples = 400
    whole = mc_predict(model, x, samples=samples, chunk_size=samples)
    chunked = mc_predict(model, x, samples=samples, batch_size=4, chunk_size=7)
    # Each mean has standard error std / sqrt(T); 5 standard errors of the
    # difference, plus float32 slack.
    tolerance = 5 * np.sqrt(2.0 / samples) * np.maximum(whole.std, 1e-3) + 1e-4
    assert np.all(np.abs(whole.mean - chunked.mean) <= tolerance)
    np.testing.assert_allclose(whole.std, chunked.std, rtol=0.2, atol=2e-3)
    np.testing.assert_allclose(
        whole.mutual_information, chunked.mutual_information,
        rtol=0.25, atol=5e-3,
    )


def test_dataset_and_array_inputs_give_the_same_result():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    x = _inputs(11)
    y = np.zeros((11,), "int64")
    from_array = mc_predict(model, x, samples=3, from_logits=False)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    from_dataset = mc_predict(model, dataset, samples=3, from_logits=False)
    np.testing.assert_allclose(from_array.mean, from_dataset.mean, atol=1e-6)
    inputs_only = tf.data.Dataset.from_tensor_slices(x).batch(5)
    result = mc_predict(model, inputs_only, samples=3, from_logits=False)
    assert result.mean.shape == (11, NUM_CLASSES)


def test_multi_input_model_takes_a_dict():
    a = keras.Input((2,), name="a")
    b = keras.Input((3,), name="b")
    hidden = keras_svd.layers.PermaDropout(0.5)(
        keras.layers.Concatenate()([a, b])
    )
    model = keras.Model({"a": a, "b": b}, keras.layers.Dense(2)(hidden))
    x = {"a": np.ones((5, 2), "float32"), "b": np.ones((5, 3), "float32")}
    result = mc_predict(model, x, samples=4, batch_size=2)
    assert result.mean.shape == (5, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"samples": 0}, "Received: samples=0"),
        ({"samples": -3}, "Received: samples=-3"),
        ({"samples": 2.5}, "Received: samples=2.5"),
        ({"samples": True}, "Received: samples=True"),
        ({"batch_size": 0}, "Received: batch_size=0"),
        ({"chunk_size": 0}, "Received: chunk_size=0"),
        ({"samples": 3, "chunk_size": 4}, "Received: chunk_size=4"),
        ({"from_logits": "yes"}, "Received: from_logits='yes'"),
        ({"sample_weights": None}, "Received: sample_weights=None"),
        ({"return_samples": 1}, "Received: return_samples=1"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mc_predict(_dropout_model(), _inputs(2), **kwargs)


@pytest.mark.parametrize(
    "x, match",
    [
        (
            np.zeros((0, 6), "float32"),
            r"x is empty.*Received: x.shape=\(0, 6\)",
        ),
        (np.zeros((4, 5), "float32"), r"Received: x.shape=\(4, 5\)"),
        (np.zeros((4, 6, 1), "float32"), r"Received: x.shape=\(4, 6, 1\)"),
        (np.float32(1.0), "rank >= 1"),
    ],
)
def test_bad_inputs_raise(x, match):
    with pytest.raises(ValueError, match=match):
        mc_predict(_dropout_model(), x, samples=2)


def test_model_must_be_a_keras_layer():
    with pytest.raises(ValueError, match="Received: model="):
        mc_predict(lambda t: t, _inputs(2), samples=2)


def test_bad_datasets_raise():
    model = _dropout_model()
    empty = tf.data.Dataset.from_tensor_slices(_inputs(4)).take(0).batch(2)
    with pytest.raises(ValueError, match="yielded no batch"):
        mc_predict(model, empty, samples=2)
    unbatched = tf.data.Dataset.from_tensor_slices(_inputs(4))
    with pytest.raises(ValueError, match=r"Received: x.shape=\(6,\)"):
        mc_predict(model, unbatched, samples=2)
    batched = unbatched.batch(2)
    with pytest.raises(ValueError, match="Received: batch_size=2"):
        mc_predict(model, batched, samples=2, batch_size=2)


def test_probabilities_are_checked_when_not_from_logits():
    model = _dropout_model()
    with pytest.raises(ValueError, match="Received: from_logits=False"):
        mc_predict(model, _inputs(3) * 10, samples=2, from_logits=False)


@pytest.mark.parametrize("units", [1, None])
def test_model_output_must_be_one_row_of_classes(units):
    if units is None:  # Rank 3 output.
        model = keras.Sequential(
            [keras.Input((4, 6)), keras.layers.Dense(NUM_CLASSES)]
        )
        x = np.zeros((2, 4, 6), "float32")
    else:
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
        x = _inputs(2)
    with pytest.raises(ValueError, match="Received: model output="):
        mc_predict(model, x, samples=2)


def test_repeated_calls_reuse_one_compiled_function_and_free_the_model():
    import gc
    import importlib
    import weakref

    # The package exports the function under the module's name.
    module = importlib.import_module("keras_svd.mc_predict")

    model = _dropout_model()
    mc_predict(model, _inputs(3), samples=2)
    runner = module._CACHE[model]
    mc_predict(model, _inputs(5), samples=2)
    assert module._CACHE[model] is runner and len(runner) == 1
    reference = weakref.ref(model)
    del model, runner
    gc.collect()
    assert reference() is None


def _softmax_cnn():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            PermaDropout(0.5),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


def test_a_softmax_model_is_detected_and_not_softmaxed_twice():
    # The seed experiment's CNN ends in a softmax: applying a second one
    # gave a mean entropy near log(classes), silently.
    model = _softmax_cnn()
    x = _inputs(20) * 5
    auto = mc_predict(model, x, samples=200)
    explicit = mc_predict(model, x, samples=200, from_logits=False)
    # The same statistics: the means agree within Monte-Carlo noise (a
    # standard error of about 0.03 for the difference of two means here).
    np.testing.assert_allclose(auto.mean.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(auto.mean - explicit.mean).max() < 0.15
    twice = np.log(NUM_CLASSES)
    assert auto.predictive_entropy.mean() < 0.9 * twice
    with pytest.raises(ValueError, match="applies softmax.*from_logits=True"):
        mc_predict(model, x, samples=2, from_logits=True)


def test_outputs_that_sum_to_one_are_probabilities_without_a_softmax_layer():
    inputs = keras.Input((6,))
    logits = keras.layers.Dense(NUM_CLASSES)(inputs)
    probs = keras.layers.Lambda(lambda t: keras.ops.softmax(t))(logits)
    model = keras.Model(inputs, probs)
    x = _inputs(8)
    result = mc_predict(model, x, samples=2)
    np.testing.assert_allclose(
        result.mean, keras.ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="sums to 1.*from_logits=True"):
        mc_predict(model, x, samples=2, from_logits=True)


def test_a_logits_model_is_detected_as_logits():
    model = _dropout_model()
    x = _inputs(8)
    auto = mc_predict(model, x, samples=4, sample_weights=False)
    assert np.allclose(auto.mean.sum(axis=1), 1.0, atol=1e-5)
    # from_logits=None chose logits: a softmax was applied, so the mean is
    # not the raw outputs' (which do not sum to 1).
    raw = keras.ops.convert_to_numpy(model(x, training=False))
    assert not np.allclose(raw.sum(axis=1), 1.0, atol=1e-3)
