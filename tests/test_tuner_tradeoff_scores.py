"""Tests of `keras_svd.tuner.TradeoffScores`."""

import copy
import math

import numpy as np
import pytest

import keras_svd
from keras_svd.tuner import FLOOR
from keras_svd.tuner import TradeoffScores

SCORES = ("val_tradeoff", "val_constrained_accuracy", "capped_compression")


def _model():
    model = keras_svd.models.lenet_300_100(
        input_shape=(4, 4, 1), units=(6, 5), num_train_examples=100
    )
    return model


def _scores(callback, model, epoch=0, **logs):
    callback.set_model(model)
    callback.on_train_begin()
    logs = {"val_accuracy": 0.9, **logs}
    callback.on_epoch_end(epoch, logs)
    return logs


def _prune(layer):
    layer.log_sigma2.assign(np.full(layer.log_sigma2.shape, 10.0, "float32"))


def test_scores_of_an_unpruned_model_equal_the_accuracy():
    logs = _scores(TradeoffScores(weight=0.5, min_compression=1.0), _model())
    assert logs["compression"] == 1.0
    assert logs["kept_weights"] == 16 * 6 + 6 * 5 + 5 * 10
    assert logs["val_tradeoff"] == pytest.approx(0.9)
    assert logs["val_constrained_accuracy"] == pytest.approx(0.9)
    assert logs["capped_compression"] == 1.0


def test_tradeoff_adds_weighted_log10_compression():
    model = _model()
    _prune(model.get_layer("dense_6"))  # 96 of 176 weights pruned.
    logs = _scores(
        TradeoffScores(weight=0.3, min_compression=2.0, max_compression=2.1),
        model,
    )
    compression = 176 / 80
    assert logs["kept_weights"] == 80
    assert logs["val_tradeoff"] == pytest.approx(
        0.9 + 0.3 * math.log10(compression)
    )
    assert logs["val_constrained_accuracy"] == pytest.approx(0.9)
    assert logs["capped_compression"] == pytest.approx(2.1)


def test_constrained_accuracy_below_the_floor_is_a_negative_penalty():
    logs = _scores(TradeoffScores(min_compression=4.0), _model())
    # compression 1: 1 / 4 - 1, below every accuracy, above FLOOR.
    assert logs["val_constrained_accuracy"] == pytest.approx(-0.75)
    assert FLOOR < logs["val_constrained_accuracy"] < 0


@pytest.mark.parametrize(
    "epoch, logs",
    [
        (2, {}),  # Within warmup_epochs=3.
        (5, {"kl_weight": 0.0}),  # KL not on yet.
        (5, {"val_accuracy": 0.1}),  # Chance with 10 classes.
        (5, {"val_accuracy": 0.05}),
        (5, {"val_accuracy": float("nan")}),
    ],
)
def test_scores_are_the_floor_where_they_mean_nothing(epoch, logs):
    logs = _scores(TradeoffScores(warmup_epochs=3), _model(), epoch, **logs)
    for key in SCORES:
        assert logs[key] == FLOOR


def test_scores_stay_finite_when_every_weight_is_pruned():
    model = _model()
    for layer in keras_svd.variational_layers(model):
        _prune(layer)
    logs = _scores(TradeoffScores(), model)
    assert logs["compression"] == float("inf")
    assert logs["kept_weights"] == 0
    for key in SCORES:
        assert logs[key] == FLOOR


def test_scores_count_once_the_warmup_is_over():
    logs = _scores(TradeoffScores(warmup_epochs=3), _model(), epoch=3)
    assert logs["val_tradeoff"] == pytest.approx(0.9)


def test_existing_compression_log_is_kept():
    logs = _scores(TradeoffScores(), _model(), compression=1.5)
    assert logs["compression"] == 1.5


def test_missing_validation_accuracy_raises():
    callback = TradeoffScores()
    callback.set_model(_model())
    callback.on_train_begin()
    with pytest.raises(ValueError, match="val_accuracy"):
        callback.on_epoch_end(0, {"accuracy": 0.9})


def test_explicit_chance_accuracy_overrides_the_classes():
    logs = _scores(TradeoffScores(chance_accuracy=0.95), _model())
    assert logs["val_tradeoff"] == FLOOR


def test_deepcopy_shares_no_model():
    callback = TradeoffScores(weight=0.2)
    callback.set_model(_model())
    copied = copy.deepcopy(callback)
    assert copied.model is None
    assert copied.weight == 0.2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weight": -0.1}, "weight="),
        ({"weight": float("inf")}, "weight="),
        ({"min_compression": 0.5}, "min_compression="),
        ({"max_compression": 1.0}, "max_compression="),
        ({"max_compression": float("inf")}, "max_compression="),
        ({"warmup_epochs": -1}, "warmup_epochs="),
        ({"warmup_epochs": 1.5}, "warmup_epochs="),
        ({"chance_accuracy": 1.0}, "chance_accuracy="),
        ({"monitor": ""}, "monitor="),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TradeoffScores(**kwargs)
