"""Tests of `keras_svd.callbacks.SparsityMonitor`."""

import copy
import glob
import os

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

import keras_svd
from keras_svd import datasets
from keras_svd.callbacks import SparsityMonitor

# Log sigma^2 of the two layers of `_fixed_model`, with every kernel weight
# 1 so that log alpha = log sigma^2 (log(1 + 1e-8) is 0 in float32). The
# threshold is 3: a weight at exactly 3 is pruned, one at 2.999 is kept.
FIRST_LOG_SIGMA2 = np.array(
    [[5.0, 3.0, 2.999, -5.0], [8.0, -8.0, -5.0, 4.0], [-5.0, -5.0, 6.0, -1.0]],
    "float32",
)  # 5 of 12 pruned
SECOND_LOG_SIGMA2 = np.array(
    [[3.5, -5.0], [-5.0, -5.0], [-5.0, 7.0], [-5.0, -5.0]], "float32"
)  # 2 of 8 pruned
EXPECTED_SPARSITY = 7 / 20
EXPECTED_COMPRESSION = 20 / 13


def _fixed_model(first_name="first", second_name="second", jit_compile=False):
    """Weights that `fit` does not change (learning rate 0)."""
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras_svd.layers.VariationalDense(
                4, activation="relu", name=first_name
            ),
            keras_svd.layers.VariationalDense(2, name=second_name),
        ]
    )
    first, second = keras_svd.variational_layers(model)
    pairs = ((first, FIRST_LOG_SIGMA2), (second, SECOND_LOG_SIGMA2))
    for layer, log_sigma2 in pairs:
        layer.kernel.assign(np.ones(log_sigma2.shape, "float32"))
        layer.log_sigma2.assign(log_sigma2)
    keras_svd.set_num_train_examples(model, 32)
    model.compile(
        keras.optimizers.SGD(0.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def _data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = rng.integers(0, 2, size=(n,))
    return x, y


def _fit(model, callbacks, epochs=2, batch_size=8, **kwargs):
    x, y = _data()
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=callbacks,
        **kwargs,
    )


class _BatchLogRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append((batch, dict(logs)))


def test_logs_hold_exact_sparsity_compression_and_per_layer_keys():
    model = _fixed_model(jit_compile=True)
    history = _fit(model, [SparsityMonitor()])
    assert history.history["sparsity"] == pytest.approx(
        [EXPECTED_SPARSITY] * 2, abs=1e-12
    )
    assert history.history["compression"] == pytest.approx(
        [EXPECTED_COMPRESSION] * 2, abs=1e-12
    )
    assert history.history["sparsity/first"] == pytest.approx([5 / 12] * 2)
    assert history.history["sparsity/second"] == pytest.approx([2 / 8] * 2)
    report = keras_svd.sparsity_report(model)
    assert [row["kept"] for row in report] == [7, 6]


def test_last_report_is_the_measurement_of_measure_sparsity():
    model = _fixed_model()
    monitor = SparsityMonitor()
    _fit(model, [monitor], epochs=1)
    assert monitor.last_report == keras_svd.measure_sparsity(model)
    assert monitor.last_report["rows"] == keras_svd.sparsity_report(model)
    assert monitor.last_report["compression"] == pytest.approx(
        keras_svd.compression_ratio(model)
    )


def test_per_layer_false_writes_only_the_model_keys():
    history = _fit(_fixed_model(), [SparsityMonitor(per_layer=False)])
    assert "sparsity" in history.history
    assert "compression" in history.history
    assert not [key for key in history.history if key.startswith("sparsity/")]


def test_layers_of_nested_models_are_reported():
    inner = _fixed_model(first_name="inner_a", second_name="inner_b")
    outer = keras.Sequential([keras.Input((3,)), inner])
    outer.compile(
        keras.optimizers.SGD(0.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = _fit(outer, [SparsityMonitor()], epochs=1)
    assert history.history["sparsity/inner_a"] == pytest.approx([5 / 12])
    assert history.history["sparsity/inner_b"] == pytest.approx([2 / 8])


def test_mnist_sparsity_rises_and_matches_sparsity_report(mnist_dir):
    (x_train, y_train), _ = datasets.load_numpy("mnist", source_dir=mnist_dir)
    n = 4000
    x = x_train[:n].reshape(n, -1)
    y = y_train[:n]
    layers_kwargs = {"log_sigma2_init": -6.0}
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras_svd.layers.VariationalDense(
                300, activation="relu", **layers_kwargs
            ),
            keras_svd.layers.VariationalDense(
                100, activation="relu", **layers_kwargs
            ),
            keras_svd.layers.VariationalDense(10, **layers_kwargs),
        ]
    )
    keras_svd.set_num_train_examples(model, n)
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    initial = 1.0 - 1.0 / keras_svd.compression_ratio(model)
    history = model.fit(
        x, y, epochs=4, batch_size=100, verbose=0, callbacks=[SparsityMonitor()]
    )
    sparsity = history.history["sparsity"]
    assert sparsity[0] > initial
    assert all(b >= a - 0.005 for a, b in zip(sparsity, sparsity[1:]))
    assert sparsity[-1] > sparsity[0] + 0.02
    assert history.history["accuracy"][-1] > 0.7

    # The last epoch's logs against an independent count after training.
    report = keras_svd.sparsity_report(model)
    total = sum(row["weights"] for row in report)
    kept = sum(row["kept"] for row in report)
    assert total == 784 * 300 + 300 * 100 + 100 * 10
    assert sparsity[-1] == pytest.approx(1.0 - kept / total, abs=1e-12)
    assert history.history["compression"][-1] == pytest.approx(
        keras_svd.compression_ratio(model)
    )
    for row in report:
        logged = history.history[f"sparsity/{row['layer']}"][-1]
        assert logged == pytest.approx(row["sparsity"], abs=1e-12)


def test_early_stopping_and_model_checkpoint_can_monitor_the_sparsity(
    tmp_path,
):
    path = str(tmp_path / "best.weights.h5")
    callbacks = [
        SparsityMonitor(),
        keras.callbacks.EarlyStopping("sparsity", mode="max", patience=1),
        keras.callbacks.ModelCheckpoint(
            path,
            monitor="compression",
            mode="max",
            save_best_only=True,
            save_weights_only=True,
        ),
    ]
    # The weights are frozen: no improvement after the first epoch, so
    # EarlyStopping stops after the second; it would run all 6 epochs (with a
    # warning) if `sparsity` were missing from the logs.
    history = _fit(_fixed_model(), callbacks, epochs=6)
    assert len(history.history["sparsity"]) == 2
    assert os.path.exists(path)


@pytest.mark.parametrize("steps_per_execution", [1, 2])
def test_update_freq_reports_into_the_batch_logs_every_n_batches(
    steps_per_execution,
):
    if steps_per_execution > 1 and keras.backend.backend() == "torch":
        pytest.skip("Keras's PyTorch backend runs one step per execution")
    model = _fixed_model()
    model.compile(
        keras.optimizers.SGD(0.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=steps_per_execution,
    )
    monitor = SparsityMonitor(update_freq=2)
    recorder = _BatchLogRecorder()
    # 32 examples, batches of 4: 8 batches per epoch.
    _fit(model, [monitor, recorder], epochs=2, batch_size=4)
    reported = [
        (batch, logs["sparsity"])
        for batch, logs in recorder.logs
        if "sparsity" in logs
    ]
    assert [batch for batch, _ in reported] == [1, 3, 5, 7] * 2
    assert [value for _, value in reported] == pytest.approx(
        [EXPECTED_SPARSITY] * 8
    )
    assert not monitor.async_safe


def test_epoch_mode_measures_once_per_epoch_and_nothing_per_batch():
    model = _fixed_model()
    monitor = SparsityMonitor()
    calls = []
    measure = monitor._measure

    def counting_measure(*args, **kwargs):
        calls.append(1)
        return measure(*args, **kwargs)

    monitor._measure = counting_measure
    recorder = _BatchLogRecorder()
    _fit(model, [monitor, recorder], epochs=3, batch_size=4)
    assert len(calls) == 3
    assert len(recorder.logs) == 24
    assert not any("sparsity" in logs for _, logs in recorder.logs)
    assert monitor.async_safe


def test_verbose_prints_the_per_layer_table_at_the_end_of_training(capsys):
    _fit(_fixed_model(), [SparsityMonitor(verbose=1)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert out.count("SparsityMonitor: sparsity per layer") == 1
    assert "Weights" in out and "Kept" in out and "Sparsity %" in out
    first = next(line for line in lines if line.startswith("first"))
    assert first.split() == ["first", "12", "7", "41.67"]
    second = next(line for line in lines if line.startswith("second"))
    assert second.split() == ["second", "8", "6", "25.00"]
    total = next(line for line in lines if line.startswith("Total"))
    assert total.split() == ["Total", "20", "13", "35.00"]
    assert "Compression |W| / |W != 0|: 1.5x" in out

    _fit(_fixed_model(), [SparsityMonitor(verbose=0)])
    assert capsys.readouterr().out == ""


def test_log_dir_gets_sparsity_scalars_and_log_alpha_histograms(tmp_path):
    _fit(_fixed_model(), [SparsityMonitor(log_dir=str(tmp_path))], epochs=3)
    (event_file,) = glob.glob(str(tmp_path / "sparsity" / "events.*"))
    events = event_accumulator.EventAccumulator(
        event_file, size_guidance={event_accumulator.TENSORS: 0}
    )
    events.Reload()
    tags = set(events.Tags()["tensors"])
    expected = {
        "epoch_sparsity",
        "epoch_compression",
        "epoch_sparsity/first",
        "epoch_sparsity/second",
        "log_alpha/first",
        "log_alpha/second",
    }
    assert expected <= tags
    scalars = events.Tensors("epoch_sparsity")
    assert [event.step for event in scalars] == [0, 1, 2]
    value = tensor_util.make_ndarray(scalars[0].tensor_proto)
    assert float(value.reshape(())) == pytest.approx(EXPECTED_SPARSITY)
    assert [e.step for e in events.Tensors("log_alpha/first")] == [0, 1, 2]


def test_integer_update_freq_writes_batch_scalars_at_the_optimizer_step(
    tmp_path,
):
    monitor = SparsityMonitor(update_freq=2, log_dir=str(tmp_path))
    # 32 examples, batches of 4: 8 steps per epoch, a report every 2.
    _fit(_fixed_model(), [monitor], epochs=2, batch_size=4)
    (event_file,) = glob.glob(str(tmp_path / "sparsity" / "events.*"))
    events = event_accumulator.EventAccumulator(
        event_file, size_guidance={event_accumulator.TENSORS: 0}
    )
    events.Reload()
    scalars = events.Tensors("batch_sparsity")
    assert [event.step for event in scalars] == [2, 4, 6, 8, 10, 12, 14, 16]
    value = tensor_util.make_ndarray(scalars[-1].tensor_proto)
    assert float(value.reshape(())) == pytest.approx(EXPECTED_SPARSITY)
    assert "step" not in monitor.last_report


def test_histogram_freq_zero_writes_no_histogram(tmp_path):
    monitor = SparsityMonitor(log_dir=str(tmp_path), histogram_freq=0)
    _fit(_fixed_model(), [monitor], epochs=1)
    (event_file,) = glob.glob(str(tmp_path / "sparsity" / "events.*"))
    events = event_accumulator.EventAccumulator(event_file)
    events.Reload()
    tags = events.Tags()["tensors"]
    assert "epoch_sparsity" in tags
    assert not [tag for tag in tags if tag.startswith("log_alpha/")]


def test_one_instance_works_across_fit_calls_models_and_deepcopy():
    monitor = SparsityMonitor()
    _fit(_fixed_model(), [monitor], epochs=1)
    other = _fixed_model(first_name="alpha", second_name="beta")
    history = _fit(other, [monitor], epochs=1)
    assert "sparsity/alpha" in history.history
    assert "sparsity/first" not in history.history

    copied = copy.deepcopy(monitor)
    assert copied.model is None and copied.last_report is None
    assert monitor.model is other
    history = _fit(_fixed_model(first_name="gamma"), [copied], epochs=1)
    assert history.history["sparsity/gamma"] == pytest.approx([5 / 12])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"verbose": 5}, "Received: verbose=5"),
        ({"update_freq": "batch"}, "Received: update_freq='batch'"),
        ({"update_freq": 0}, "Received: update_freq=0"),
        ({"update_freq": True}, "Received: update_freq=True"),
        ({"log_dir": 3}, "Received: log_dir=3"),
        ({"histogram_freq": -1}, "Received: histogram_freq=-1"),
        ({"per_layer": "yes"}, "Received: per_layer='yes'"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SparsityMonitor(**kwargs)


def test_model_without_variational_layers_is_rejected():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="needs a model with variational"):
        model.fit(
            np.zeros((4, 3), "float32"),
            np.zeros((4, 2), "float32"),
            verbose=0,
            callbacks=[SparsityMonitor()],
        )
