"""Tests of `keras_svd.tuner.run_search`."""

import json

import keras_tuner
import numpy as np
import pytest

import keras_svd
from keras_svd.tuner import run_search

NUM_TRAIN = 2000


def test_run_search_writes_the_front(mnist_dir, tmp_path):
    (x, y), (x_test, y_test) = keras_svd.datasets.load_numpy(
        "mnist", source_dir=mnist_dir
    )
    hp = keras_tuner.HyperParameters()
    hp.Fixed("units_1", 32)
    hp.Fixed("units_2", 32)
    hp.Fixed("learning_rate", 1e-2)
    hp.Fixed("kl_warmup_epochs", 0)
    result = run_search(
        x[:NUM_TRAIN],
        y[:NUM_TRAIN],
        (x_test[:300], y_test[:300]),
        objective="compression",
        max_trials=1,
        epochs=1,
        batch_size=50,
        directory=tmp_path,
        hyperparameters=hp,
        verbose=0,
    )
    assert result["best_hyperparameters"]["units_1"] == 32
    with open(result["front_path"]) as f:
        saved = json.load(f)
    assert [p["trial_id"] for p in saved] == [
        p["trial_id"] for p in result["pareto_front"]
    ]
    assert saved[0]["pareto_optimal"] is True
    assert result["front_path"] == str(tmp_path / "mlp" / "pareto_front.json")
    (best,) = result["tuner"].get_best_models(1)
    layers = keras_svd.variational_layers(best)
    assert {layer.num_train_examples for layer in layers} == {NUM_TRAIN}


X = np.zeros((4, 28, 28, 1), "float32")
Y = np.array([0, 1, 2, 3])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"objective": "accuracy"}, "objective='accuracy'"),
        ({"tuner": "grid"}, "tuner='grid'"),
        ({"family": "resnet"}, "family='resnet'"),
        ({"max_trials": 0}, "max_trials=0"),
        ({"epochs": 0}, "epochs=0"),
        ({"y": Y[:3]}, "len\\(y\\)=3"),
        ({"y": Y.astype("float32")}, "integer class labels"),
    ],
)
def test_invalid_arguments_raise(kwargs, match, tmp_path):
    arguments = {"x": X, "y": Y, "validation_data": (X, Y)}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_search(directory=tmp_path, **arguments)
