"""Tests of `keras_svd.callbacks.KLAnnealing`."""

import copy

import keras
import keras_tuner
import numpy as np
import pytest

import keras_svd
from keras_svd import schedules
from keras_svd.callbacks import KLAnnealing

NUM_EXAMPLES = 64
BATCH_SIZE = 16  # 4 steps per epoch


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(NUM_EXAMPLES, 8)).astype("float32")
    y = rng.integers(0, 3, size=(NUM_EXAMPLES,))
    return x, y


def _model(kl_weight=1.0, loss=True, learning_rate=0.05):
    """A tiny model; without `loss` the only loss is beta * KL / N."""
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras_svd.layers.VariationalDense(
                6, activation="relu", kl_weight=kl_weight, seed=1
            ),
            keras_svd.layers.VariationalDense(3, kl_weight=kl_weight, seed=2),
        ]
    )
    keras_svd.set_num_train_examples(model, NUM_EXAMPLES)
    model.compile(
        keras.optimizers.SGD(learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if loss
        else None,
    )
    return model


def _layer_betas(model):
    return [
        float(keras.ops.convert_to_numpy(layer.kl_weight_variable))
        for layer in keras_svd.variational_layers(model)
    ]


class _Recorder(keras.callbacks.Callback):
    """Records, before every batch, the epoch, step and the layers' beta."""

    def __init__(self):
        super().__init__()
        self.batches = []
        self.epochs = []

    def on_train_batch_begin(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self.batches.append((self._epoch, step, _layer_betas(self.model)))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, logs["kl_weight"]))


class _InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("Interrupted on purpose.")


def test_kl_weight_in_history_follows_the_schedule_and_the_loss_reflects_it():
    x, _ = _data()
    # No data loss and frozen weights: the loss is exactly beta * KL / N.
    model = _model(loss=False, learning_rate=0.0)
    schedule = schedules.LinearWarmup(1, 4)
    history = model.fit(
        x,
        epochs=6,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[KLAnnealing(schedule)],
    )
    expected = [schedule(epoch) for epoch in range(6)]
    assert history.history["kl_weight"] == expected
    assert expected[:2] == [0.0, 0.0] and expected[4:] == [1.0, 1.0]
    kl_per_example = sum(
        float(keras.ops.convert_to_numpy(layer.kl_divergence()))
        for layer in keras_svd.variational_layers(model)
    ) / NUM_EXAMPLES
    assert kl_per_example > 0.0
    np.testing.assert_allclose(
        history.history["loss"],
        np.array(expected) * kl_per_example,
        rtol=1e-5,
        atol=1e-7,
    )
    assert _layer_betas(model) == [1.0, 1.0]


def test_beta_is_set_before_the_epoch_it_applies_to():
    x, y = _data()
    model = _model(kl_weight=0.3)
    recorder = _Recorder()
    schedule = schedules.LinearWarmup(0, 2)
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[KLAnnealing(schedule), recorder],
    )
    for epoch, _, betas in recorder.batches:
        assert betas == [schedule(epoch)] * 2


def test_a_plain_callable_is_accepted_as_schedule():
    x, y = _data()
    model = _model()
    history = model.fit(
        x,
        y,
        epochs=3,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[KLAnnealing(lambda epoch: [0.0, 0.25, 0.75][epoch])],
    )
    assert history.history["kl_weight"] == [0.0, 0.25, 0.75]


def test_by_step_sets_beta_from_the_optimizer_iterations_before_each_batch():
    x, y = _data()
    model = _model()
    recorder = _Recorder()
    schedule = schedules.LinearWarmup(2, 10, by="step")
    history = model.fit(
        x,
        y,
        epochs=3,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[KLAnnealing(schedule), recorder],
    )
    steps = [step for _, step, _ in recorder.batches]
    assert steps == list(range(12))
    for _, step, betas in recorder.batches:
        assert betas == pytest.approx([schedule(0, step)] * 2, abs=1e-7)
    # The epoch logs hold the beta of the epoch's last batch.
    assert history.history["kl_weight"] == [
        schedule(0, 3),
        schedule(0, 7),
        schedule(0, 11),
    ]


@pytest.mark.parametrize(
    "schedule",
    [schedules.LinearWarmup(1, 5), schedules.LinearWarmup(3, 15, by="step")],
    ids=["by_epoch", "by_step"],
)
def test_run_resumed_with_backup_and_restore_keeps_the_beta_trajectory(
    schedule, tmp_path
):
    x, y = _data()
    epochs, interrupted_at = 6, 3

    def run(model, backup_dir, extra=()):
        recorder = _Recorder()
        callbacks = [
            keras.callbacks.BackupAndRestore(str(backup_dir)),
            KLAnnealing(schedule),
            recorder,
            *extra,
        ]
        try:
            model.fit(
                x,
                y,
                epochs=epochs,
                batch_size=BATCH_SIZE,
                verbose=0,
                callbacks=callbacks,
            )
        except RuntimeError:
            pass
        return recorder

    reference = run(_model(), tmp_path / "reference")

    model = _model()
    first = run(model, tmp_path / "resumed", [_InterruptAt(interrupted_at)])
    assert [e for e, _ in first.epochs] == list(range(interrupted_at))
    # A new process: a new model and new callbacks, the same backup folder.
    second = run(_model(), tmp_path / "resumed")
    assert second.epochs[0][0] == interrupted_at

    assert first.epochs + second.epochs == reference.epochs
    assert first.batches + second.batches == reference.batches
    assert len(reference.epochs) == epochs
    assert len({beta for _, beta in reference.epochs}) > 2


def test_one_instance_works_across_several_fit_calls_and_models():
    x, y = _data()
    callback = KLAnnealing(schedules.LinearWarmup(0, 4))
    model = _model()
    first = model.fit(
        x, y, epochs=2, batch_size=BATCH_SIZE, verbose=0, callbacks=[callback]
    )
    second = model.fit(
        x,
        y,
        initial_epoch=2,
        epochs=4,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[callback],
    )
    assert first.history["kl_weight"] == [0.0, 0.25]
    assert second.history["kl_weight"] == [0.5, 0.75]

    # A constant beta already applied in a previous run is applied again to
    # a new model: per-run state is reset in `on_train_begin`.
    constant = KLAnnealing(1.0)
    _model(kl_weight=0.5).fit(
        x, y, epochs=1, batch_size=BATCH_SIZE, verbose=0, callbacks=[constant]
    )
    other = _model(kl_weight=0.5)
    other.fit(
        x, y, epochs=1, batch_size=BATCH_SIZE, verbose=0, callbacks=[constant]
    )
    assert _layer_betas(other) == [1.0, 1.0]


def test_callback_survives_deepcopy_after_fit():
    x, y = _data()
    callback = KLAnnealing(schedules.LinearWarmup(0, 2))
    model = _model()
    model.fit(
        x, y, epochs=1, batch_size=BATCH_SIZE, verbose=0, callbacks=[callback]
    )
    copied = copy.deepcopy(callback)
    assert copied.model is None
    assert callback.model is model
    assert copied.schedule.get_config() == callback.schedule.get_config()
    other = _model(kl_weight=0.5)
    history = other.fit(
        x, y, epochs=3, batch_size=BATCH_SIZE, verbose=0, callbacks=[copied]
    )
    assert history.history["kl_weight"] == [0.0, 0.5, 1.0]
    assert _layer_betas(model) == [0.0, 0.0]


def test_keras_tuner_trials_each_follow_the_schedule(tmp_path):
    x, y = _data()

    def build(hp):
        units = hp.Choice("units", [4, 6])
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras_svd.layers.VariationalDense(units, activation="relu"),
                keras_svd.layers.VariationalDense(3),
            ]
        )
        keras_svd.set_num_train_examples(model, NUM_EXAMPLES)
        model.compile(
            "sgd",
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    class TrialRecorder(keras.callbacks.Callback):
        records = []  # A class attribute: shared by the tuner's copies.

        def on_epoch_end(self, epoch, logs=None):
            self.records.append(
                (id(self.model), logs["kl_weight"], _layer_betas(self.model))
            )

    annealing = KLAnnealing(schedules.LinearWarmup(0, 2))
    tuner = keras_tuner.GridSearch(
        build,
        objective="loss",
        max_trials=2,
        directory=str(tmp_path),
        project_name="kl",
    )
    tuner.search(
        x,
        y,
        epochs=2,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[annealing, TrialRecorder()],
    )
    assert len(tuner.oracle.trials) == 2
    assert annealing.model is None  # the tuner ran copies
    models = []
    for model_id, _, _ in TrialRecorder.records:
        if model_id not in models:
            models.append(model_id)
    assert len(models) == 2
    for model_id in models:
        trajectory = [
            (logged, betas)
            for seen, logged, betas in TrialRecorder.records
            if seen == model_id
        ]
        assert trajectory == [(0.0, [0.0, 0.0]), (0.5, [0.5, 0.5])]


def test_invalid_beta_from_the_schedule_is_rejected_during_fit():
    x, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="Received: beta=2.0"):
        model.fit(
            x,
            y,
            epochs=1,
            batch_size=BATCH_SIZE,
            verbose=0,
            callbacks=[KLAnnealing(lambda epoch: 2.0)],
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"schedule": "warmup"}, "Received: schedule=.warmup.$"),
        ({"schedule": 1.5}, "Received: value=1.5"),
        ({"schedule": 1.0, "verbose": 3}, "Received: verbose=3"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        KLAnnealing(**kwargs)


def test_model_without_variational_layers_is_rejected():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    model.compile("sgd", "mse")
    x = np.zeros((4, 8), "float32")
    with pytest.raises(ValueError, match="no variational layer"):
        model.fit(
            x,
            np.zeros((4, 3), "float32"),
            verbose=0,
            callbacks=[KLAnnealing(1.0)],
        )


def test_verbose_prints_only_when_beta_changes(capsys):
    x, y = _data()
    model = _model()
    schedule = schedules.LinearWarmup(1, 2)
    model.fit(
        x,
        y,
        epochs=4,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[KLAnnealing(schedule, verbose=1)],
    )
    out = capsys.readouterr().out
    assert "Epoch 1: KLAnnealing setting kl_weight to 0." in out
    assert "Epoch 3: KLAnnealing setting kl_weight to 1." in out
    assert out.count("KLAnnealing") == 2

    model.fit(
        x,
        y,
        epochs=1,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[KLAnnealing(schedule, verbose=0)],
    )
    assert capsys.readouterr().out == ""


def _inactive_warnings(record):
    return [
        str(w.message)
        for w in record
        if "nothing was sparsified" in str(w.message)
    ]


def test_a_run_that_ends_with_beta_zero_says_so_once():
    model = _model()
    x, y = _data()
    with pytest.warns(UserWarning) as record:
        model.fit(
            x,
            y,
            batch_size=BATCH_SIZE,
            epochs=3,
            verbose=0,
            callbacks=[
                KLAnnealing(schedules.PaperWarmup()),
                keras_svd.callbacks.SparsityMonitor(),
            ],
        )
    messages = _inactive_warnings(record)
    assert len(messages) == 1  # two callbacks, one warning
    assert "beta was still 0" in messages[0]
    assert "PaperWarmup" in messages[0]


def test_a_run_whose_kl_switched_on_does_not_warn(recwarn):
    model = _model()
    x, y = _data()
    model.fit(
        x,
        y,
        batch_size=BATCH_SIZE,
        epochs=2,
        verbose=0,
        callbacks=[
            KLAnnealing(schedules.LinearWarmup(0, 1)),
            keras_svd.callbacks.SparsityMonitor(),
        ],
    )
    assert not _inactive_warnings(recwarn)


def test_a_run_without_n_says_which_layers_lacked_it():
    model = keras.Sequential(
        [keras.Input((8,)), keras_svd.layers.VariationalDense(3, name="head")]
    )
    model.compile("sgd", "mse")
    x = np.zeros((8, 8), "float32")
    y = np.zeros((8, 3), "float32")
    with pytest.warns(UserWarning) as record:
        model.fit(
            x,
            y,
            verbose=0,
            callbacks=[keras_svd.callbacks.SparsityMonitor()],
        )
    messages = _inactive_warnings(record)
    assert len(messages) == 1
    assert messages[0].startswith("head trained without N")
    assert "set_num_train_examples" in messages[0]


def test_kl_and_kl_loss_logs_are_the_terms_of_the_loss():
    # SGD(0): the weights, so the KL, stay; beta = 0.25 for both epochs.
    model = _model(learning_rate=0.0)
    x, y = _data()
    kl = sum(
        float(keras.ops.convert_to_numpy(layer.kl_divergence()))
        for layer in keras_svd.variational_layers(model)
    ) / NUM_EXAMPLES
    history = model.fit(
        x,
        y,
        batch_size=BATCH_SIZE,
        epochs=2,
        verbose=0,
        callbacks=[KLAnnealing(0.25)],
    ).history
    np.testing.assert_allclose(history["kl"], [kl, kl], rtol=1e-5)
    np.testing.assert_allclose(
        history["kl_loss"], [0.25 * kl, 0.25 * kl], rtol=1e-5
    )
    # An eager training call between runs does not leak into the next run.
    model(x, training=True)
    history = model.fit(
        x, y, batch_size=BATCH_SIZE, verbose=0, callbacks=[KLAnnealing(1.0)]
    ).history
    np.testing.assert_allclose(history["kl_loss"], [kl], rtol=1e-5)
