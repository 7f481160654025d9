"""keras-tuner searches with `keras_svd.tuner.SparseVDHyperModel` on a slice
of real MNIST, one epoch per trial."""

import os

import keras
import keras_tuner
import pytest

import keras_svd
from keras_svd.callbacks import KLAnnealing
from keras_svd.callbacks import SparsityMonitor
from keras_svd.tuner import FLOOR
from keras_svd.tuner import SparseVDHyperModel
from keras_svd.tuner import TradeoffScores
from keras_svd.tuner import pareto_front
from tests.test_tuner_pareto_front import assert_front_is_exact

NUM_TRAIN = 2000
SCORES = ("val_tradeoff", "val_constrained_accuracy", "capped_compression")


@pytest.fixture(scope="module")
def mnist_slice(mnist_dir):
    (x, y), (x_test, y_test) = keras_svd.datasets.load_numpy(
        "mnist", source_dir=mnist_dir
    )
    return (x[:NUM_TRAIN], y[:NUM_TRAIN]), (x_test[:300], y_test[:300])


class RecordingHyperModel(SparseVDHyperModel):
    """Keeps each trial's callbacks (and so keeps their ids unique)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trial_callbacks = []

    def make_callbacks(self, hp, callbacks=None):
        callbacks = super().make_callbacks(hp, callbacks)
        self.trial_callbacks.append(callbacks)
        return callbacks


def _small_space(**fixed):
    """Small, fast networks that leave chance in one epoch."""
    hp = keras_tuner.HyperParameters()
    hp.Fixed("units_1", 32)
    hp.Fixed("units_2", 32)
    hp.Fixed("learning_rate", 1e-2)
    hp.Fixed("kl_warmup_epochs", 0)
    for name, value in fixed.items():
        hp.Fixed(name, value)
    return hp


def _search(tuner, data, **kwargs):
    (x, y), validation = data
    kwargs.setdefault("epochs", 1)
    tuner.search(
        x, y, validation_data=validation, batch_size=50, verbose=0, **kwargs
    )


def _assert_trials_log_the_scores(tuner, expected_trials):
    trials = [
        t
        for t in tuner.oracle.trials.values()
        if t.status == keras_tuner.engine.trial.TrialStatus.COMPLETED
    ]
    assert len(trials) >= expected_trials
    for trial in trials:
        for name in (*SCORES, "compression", "kept_weights", "val_accuracy"):
            assert trial.metrics.exists(name), (trial.trial_id, name)
        for name in SCORES:
            value = trial.metrics.get_last_value(name)
            assert FLOOR <= value < float("inf")
        assert trial.score is not None
    return trials


def _assert_best_model_is_variational(tuner):
    (best,) = tuner.get_best_models(1)
    layers = keras_svd.variational_layers(best)
    assert layers
    assert {layer.num_train_examples for layer in layers} == {NUM_TRAIN}


def test_random_search_ranks_trials_by_the_tradeoff(mnist_slice, tmp_path):
    hypermodel = RecordingHyperModel((28, 28, 1), 10, NUM_TRAIN)
    user_annealing = KLAnnealing(keras_svd.schedules.Constant(1.0))
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective=keras_svd.tuner.TRADEOFF,
        max_trials=2,
        hyperparameters=_small_space(),
        directory=tmp_path,
        project_name="random",
        seed=3,
    )
    board = keras.callbacks.TensorBoard(str(tmp_path / "logs"))
    _search(tuner, mnist_slice, callbacks=[user_annealing, board])

    trials = _assert_trials_log_the_scores(tuner, 2)
    assert max(t.score for t in trials) > FLOOR  # One left chance.
    _assert_best_model_is_variational(tuner)

    # Callbacks: one of each per trial, fresh copies, none shared.
    records = hypermodel.trial_callbacks
    assert len(records) == 2
    for callbacks in records:
        for cls in (KLAnnealing, SparsityMonitor, TradeoffScores):
            assert sum(isinstance(c, cls) for c in callbacks) == 1
        assert user_annealing not in callbacks
    first, second = records
    assert not {id(c) for c in first} & {id(c) for c in second}
    assert user_annealing.model is None

    # Per-trial TensorBoard runs of the package's own summaries.
    for trial in trials:
        run = tmp_path / "logs" / trial.trial_id / "execution0" / "sparsity"
        assert os.listdir(run), run

    points = pareto_front(tuner)
    assert len(points) == 2
    assert_front_is_exact(points)
    assert pareto_front(tmp_path / "random") == points


def test_hyperband_runs_with_the_compression_objective(mnist_slice, tmp_path):
    tuner = keras_tuner.Hyperband(
        SparseVDHyperModel((28, 28, 1), 10, NUM_TRAIN),
        objective=keras_svd.tuner.COMPRESSION,
        max_epochs=2,
        factor=2,
        hyperband_iterations=1,
        hyperparameters=_small_space(),
        directory=tmp_path,
        project_name="hyperband",
        seed=3,
    )
    _search(tuner, mnist_slice, epochs=2)
    _assert_trials_log_the_scores(tuner, 2)
    _assert_best_model_is_variational(tuner)
    assert_front_is_exact(pareto_front(tuner))


def test_fixed_space_without_new_entries_uses_the_defaults(
    mnist_slice, tmp_path
):
    tuner = keras_tuner.RandomSearch(
        SparseVDHyperModel((28, 28, 1), 10, NUM_TRAIN),
        objective=keras_svd.tuner.CONSTRAINED_ACCURACY,
        max_trials=1,
        hyperparameters=_small_space(threshold=2.5),
        tune_new_entries=False,
        directory=tmp_path,
        project_name="fixed",
    )
    _search(tuner, mnist_slice)
    (trial,) = _assert_trials_log_the_scores(tuner, 1)
    assert set(tuner.oracle.hyperparameters.values) == {
        "units_1",
        "units_2",
        "learning_rate",
        "kl_warmup_epochs",
        "threshold",
    }
    (best,) = tuner.get_best_models(1)
    layers = keras_svd.variational_layers(best)
    assert [layer.units for layer in layers] == [32, 32, 10]
    assert {layer.threshold for layer in layers} == {2.5}
    # Not in the space: the defaults.
    assert {layer.log_sigma2_init for layer in layers} == {-10.0}
    assert {layer.train_clip for layer in layers} == {True}


def test_bayesian_optimization_runs_two_trials(mnist_slice, tmp_path):
    pytest.importorskip(
        "sklearn",
        reason="BayesianOptimization needs scikit-learn "
        '(pip install "keras-svd[tuner]")',
    )
    tuner = keras_tuner.BayesianOptimization(
        SparseVDHyperModel((28, 28, 1), 10, NUM_TRAIN, min_compression=2.0),
        objective=keras_svd.tuner.CONSTRAINED_ACCURACY,
        max_trials=2,
        num_initial_points=1,
        hyperparameters=_small_space(),
        directory=tmp_path,
        project_name="bayesian",
        seed=3,
    )
    _search(tuner, mnist_slice)
    _assert_trials_log_the_scores(tuner, 2)
    _assert_best_model_is_variational(tuner)


def test_grid_search_runs_two_trials(mnist_slice, tmp_path):
    space = _small_space(threshold=3.0, log_sigma2_init=-10.0, dropout_rate=0.0)
    tuner = keras_tuner.GridSearch(
        SparseVDHyperModel((28, 28, 1), 10, NUM_TRAIN),
        objective=keras_svd.tuner.TRADEOFF,
        max_trials=2,
        hyperparameters=space,
        directory=tmp_path,
        project_name="grid",
    )
    _search(tuner, mnist_slice)
    trials = _assert_trials_log_the_scores(tuner, 2)
    # The grid walks train_clip, the one searched value left here.
    values = {t.hyperparameters.get("train_clip") for t in trials}
    assert values == {True, False}
    _assert_best_model_is_variational(tuner)
