"""Tests of `keras_svd.tuner.SparseVDHyperModel` (no search; see
test_tuner_search.py)."""

import keras
import keras_tuner
import pytest

import keras_svd
from keras_svd.callbacks import KLAnnealing
from keras_svd.callbacks import SparsityMonitor
from keras_svd.tuner import SparseVDHyperModel
from keras_svd.tuner import TradeoffScores

COMMON_DEFAULTS = {
    "learning_rate": 1e-3,
    "kl_warmup_epochs": 2,
    "threshold": 3.0,
    "log_sigma2_init": -10.0,
    "train_clip": True,
}


@pytest.mark.parametrize(
    "family, input_shape, defaults",
    [
        (
            "mlp",
            (28, 28, 1),
            {"units_1": 300, "units_2": 100, "dropout_rate": 0.0},
        ),
        (
            "lenet5",
            (28, 28, 1),
            {
                "filters_1": 20,
                "filters_2": 50,
                "units": 500,
                "dropout_rate": 0.0,
            },
        ),
        ("vgg", (32, 32, 3), {"width": 0.25}),
    ],
)
def test_build_declares_the_space_with_defaults_and_sets_n(
    family, input_shape, defaults
):
    hypermodel = SparseVDHyperModel(input_shape, 10, 1234, family=family)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert hp.values == {**COMMON_DEFAULTS, **defaults}
    layers = keras_svd.variational_layers(model)
    assert layers
    for layer in layers:
        assert layer.num_train_examples == 1234
        assert layer.threshold == 3.0
        assert layer.train_clip is True
    assert model.output_shape == (None, 10)
    assert model.optimizer is not None
    assert not any(
        isinstance(layer, keras_svd.PermaDropout) for layer in model.layers
    )


def test_fixed_hyperparameters_shape_the_model():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("units_1", 48)
    hp.Choice("units_2", [48])  # Narrowed rather than fixed.
    hp.Fixed("threshold", 2.5)
    hp.Fixed("log_sigma2_init", -8.0)
    hp.Fixed("dropout_rate", 0.2)
    hp.Fixed("learning_rate", 0.01)
    model = SparseVDHyperModel((28, 28, 1), 10, 500).build(hp)
    dense = keras_svd.variational_layers(model)
    assert [layer.units for layer in dense] == [48, 48, 10]
    assert {layer.threshold for layer in dense} == {2.5}
    assert {layer.log_sigma2_init for layer in dense} == {-8.0}
    dropout = [
        layer
        for layer in model.layers
        if isinstance(layer, keras_svd.PermaDropout)
    ]
    assert [layer.rate for layer in dropout] == [0.2]
    assert model.layers[-2] is dropout[0]
    learning_rate = model.optimizer.get_config()["learning_rate"]
    assert learning_rate == pytest.approx(0.01)


def test_lenet5_filters_and_units_are_tunable():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("filters_1", 4)
    hp.Fixed("filters_2", 6)
    hp.Fixed("units", 8)
    model = SparseVDHyperModel((28, 28, 1), 3, 10, family="lenet5").build(hp)
    layers = keras_svd.variational_layers(model)
    assert [layer.filters for layer in layers[:2]] == [4, 6]
    assert [layer.units for layer in layers[2:]] == [8, 3]


def _callbacks(hypermodel, callbacks=None, **fixed):
    hp = keras_tuner.HyperParameters()
    for name, value in fixed.items():
        hp.Fixed(name, value)
    hypermodel.build(hp)
    return hypermodel.make_callbacks(hp, callbacks)


def test_make_callbacks_adds_the_three_before_the_others():
    early = keras.callbacks.EarlyStopping("val_tradeoff", mode="max")
    given = [early]
    callbacks = _callbacks(
        SparseVDHyperModel((28, 28, 1), 10, 500), given, kl_warmup_epochs=4
    )
    assert given == [early]
    assert [type(c) for c in callbacks] == [
        KLAnnealing,
        SparsityMonitor,
        TradeoffScores,
        keras.callbacks.EarlyStopping,
    ]
    annealing, _, scores, _ = callbacks
    assert annealing.schedule(4) == 1.0 and annealing.schedule(2) == 0.5
    assert scores.warmup_epochs == 4
    assert scores.chance_accuracy == 0.1


def test_make_callbacks_without_warmup_trains_on_the_elbo():
    callbacks = _callbacks(
        SparseVDHyperModel((28, 28, 1), 10, 500), kl_warmup_epochs=0
    )
    assert callbacks[0].schedule(0) == 1.0
    assert callbacks[2].warmup_epochs == 0


def test_make_callbacks_keeps_the_users_own_without_adding_twice():
    annealing = KLAnnealing(keras_svd.schedules.LinearWarmup(1, 3))
    monitor = SparsityMonitor(per_layer=False)
    callbacks = _callbacks(
        SparseVDHyperModel((28, 28, 1), 10, 500), [monitor, annealing]
    )
    assert callbacks[:2] == [monitor, annealing]
    assert isinstance(callbacks[2], TradeoffScores)
    assert len(callbacks) == 3
    # The warm-up of the user's schedule, not the hyperparameter's.
    assert callbacks[2].warmup_epochs == 3


def test_make_callbacks_makes_fresh_callbacks_on_every_call():
    hypermodel = SparseVDHyperModel((28, 28, 1), 10, 500)
    first = _callbacks(hypermodel)
    second = _callbacks(hypermodel)
    assert all(a is not b for a, b in zip(first, second))


def test_sparsity_summaries_go_beside_the_tensorboard_logs(tmp_path):
    board = keras.callbacks.TensorBoard(str(tmp_path / "0" / "execution0"))
    callbacks = _callbacks(SparseVDHyperModel((28, 28, 1), 10, 500), [board])
    assert callbacks[1].log_dir == board.log_dir


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_train_examples": 0}, "num_train_examples=0"),
        ({"num_train_examples": 2.5}, "num_train_examples=2.5"),
        ({"family": "resnet"}, "family='resnet'"),
        ({"family": "lenet5", "input_shape": (28, 28)}, "rank 3"),
        ({"family": "vgg", "input_shape": (784,)}, "rank 3"),
        ({"family": "vgg", "input_shape": (28, 28, 1)}, "32x32"),
        ({"input_shape": ()}, "input_shape=()"),
        ({"input_shape": (28, -1)}, "input_shape="),
        ({"num_classes": 1}, "num_classes=1"),
        ({"tradeoff_weight": -1.0}, "tradeoff_weight=-1.0"),
        ({"tradeoff_weight": "high"}, "tradeoff_weight='high'"),
        ({"min_compression": 0.0}, "min_compression=0.0"),
        ({"max_compression": 1.0}, "max_compression=1.0"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    arguments = {
        "input_shape": (28, 28, 1),
        "num_classes": 10,
        "num_train_examples": 100,
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        SparseVDHyperModel(**arguments)


def test_mlp_accepts_flat_inputs():
    model = SparseVDHyperModel((784,), 10, 100).build(
        keras_tuner.HyperParameters()
    )
    assert model.input_shape == (None, 784)


def test_random_draws_reach_every_dropout_rate():
    import keras_tuner

    hypermodel = SparseVDHyperModel((28, 28, 1), 10, 1000, family="mlp")
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    oracle_space = hp.space
    rate = next(p for p in oracle_space if p.name == "dropout_rate")
    seen = {rate.random_sample(seed) for seed in range(300)}
    assert seen == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}


def test_a_users_sparsity_monitor_writes_each_trial_into_its_own_run(
    tmp_path,
):
    hypermodel = SparseVDHyperModel((28, 28, 1), 10, 1000, family="mlp")
    mine = SparsityMonitor(log_dir=str(tmp_path))
    dirs = []
    for units in (100, 300):
        hp = keras_tuner.HyperParameters()
        hp.Fixed("units_1", units)
        hypermodel.build(hp)
        callbacks = hypermodel.make_callbacks(hp, [mine])
        (monitor,) = [c for c in callbacks if isinstance(c, SparsityMonitor)]
        assert monitor is not mine
        dirs.append(monitor.log_dir)
    assert dirs[0] != dirs[1]
    assert all(d.startswith(str(tmp_path)) for d in dirs)
    assert mine.log_dir == str(tmp_path)  # the user's own is not changed
