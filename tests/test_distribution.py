"""`keras_svd.distribution`, and data parallelism on each engine (MNIST).

Each test runs tests/distributed_worker.py in fresh processes with the
backend and devices it needs (two logical CPUs for TensorFlow's
MirroredStrategy, two host devices for JAX, two JAX processes on
127.0.0.1), whatever `KERAS_BACKEND` this pytest runs under. They read real
MNIST, so tests/conftest.py marks them `slow`: CI runs them once, in its
TensorFlow run.

What they prove, on a 2,000-image slice of MNIST (N = 2000) with the
weight noise set to 0 (the deterministic setting the worker explains):

- the first step's loss under the distribution equals the one-device
  run's, and `mean NLL + beta * KL / N` computed in float64 from the
  initial weights, within 1e-4, its KL part `beta * KL / N` being about
  0.28: a KL added once per replica, or over a per-replica N, fails;
- the KL term the layers logged for that step (`kl`, that is `KL / N`)
  equals the float64 `KL / N` (relative 1e-5): twice it would fail;
- `KLAnnealing` sets beta per epoch (`kl_weight` 1e-3, then 2e-3) and
  `kl_loss` is `kl_weight * kl`;
- two JAX processes end with identical weights, and only process 0
  writes `SparsityMonitor`'s TensorBoard files.
"""

import importlib.util
import json
import pathlib
import sys
import types

import keras
import numpy as np
import pytest

import keras_svd
from keras_svd import distribution
from tests.processes import free_port
from tests.processes import run_processes
from tests.processes import worker_env

WORKER = pathlib.Path(__file__).with_name("distributed_worker.py")
BETAS = [1e-3, 2e-3]

# The JAX engines run in subprocesses whatever KERAS_BACKEND is; without
# JAX installed (`pip install -e ".[tests]"` alone) they skip.
NEEDS_JAX = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="JAX is not installed (pip install -e \".[tests,backends]\")",
)


def worker_command(engine, out, mnist_dir, *extra):
    return [
        sys.executable, str(WORKER), "--engine", engine, "--out", str(out),
        "--mnist", str(mnist_dir), *extra,
    ]


def read_record(out, process_id=0):
    return json.loads((out / f"process_{process_id}.json").read_text())


def assert_matches_one_device(record, replicas):
    """The checks every engine passes (see the module's docstring)."""
    reference = record["runs"]["reference"]
    distributed = record["runs"]["distributed"]
    assert distributed["replicas"] == replicas
    # The same initial weights in both runs.
    initial = distributed["initial_weights_sum"]
    assert initial == reference["initial_weights_sum"]
    kl_part = BETAS[0] * distributed["expected_first_kl"]
    assert kl_part > 0.1  # Far above the tolerance: a double KL shows.
    for run in (reference, distributed):
        assert run["first_loss"] == pytest.approx(
            run["expected_first_loss"], abs=1e-4
        )
        assert run["first_kl"] == pytest.approx(
            run["expected_first_kl"], rel=1e-5
        )
        history = run["history"]
        betas = BETAS[: len(history["kl_weight"])]
        assert history["kl_weight"] == pytest.approx(betas)
        np.testing.assert_allclose(
            history["kl_loss"],
            np.multiply(history["kl_weight"], history["kl"]),
            rtol=1e-5,
        )
        assert "sparsity" in history and "compression" in history
    assert distributed["first_loss"] == pytest.approx(
        reference["first_loss"], abs=1e-4
    )


def test_mirrored_strategy_matches_one_device_and_counts_the_kl_once(
    mnist_dir, tmp_path
):
    out = tmp_path / "out"
    seconds = run_processes(
        [worker_command("mirrored", out, mnist_dir)],
        worker_env("tensorflow"),
        tmp_path,
    )
    record = read_record(out)
    assert_matches_one_device(record, replicas=2)
    reference = record["runs"]["reference"]["history"]
    distributed = record["runs"]["distributed"]["history"]
    assert distributed["kl_weight"] == pytest.approx(BETAS)
    # The whole run follows one device's (2 epochs, 40 steps).
    np.testing.assert_allclose(
        distributed["loss"], reference["loss"], atol=1e-3
    )
    # Each replica samples its own weight noise.
    assert record["replicas_draw_different_noise"]
    print(f"mirrored: {seconds:.0f} s")


@NEEDS_JAX
def test_jax_data_parallel_on_one_host_matches_one_device(mnist_dir, tmp_path):
    out = tmp_path / "out"
    env = worker_env(
        "jax", XLA_FLAGS="--xla_force_host_platform_device_count=2"
    )
    seconds = run_processes(
        [worker_command("data-parallel", out, mnist_dir)], env, tmp_path
    )
    record = read_record(out)
    assert_matches_one_device(record, replicas=2)
    reference = record["runs"]["reference"]["history"]
    distributed = record["runs"]["distributed"]["history"]
    assert distributed["kl_weight"] == pytest.approx(BETAS)
    np.testing.assert_allclose(
        distributed["loss"], reference["loss"], atol=1e-3
    )
    print(f"JAX, one host: {seconds:.0f} s")


@NEEDS_JAX
def test_jax_two_processes_train_identical_weights_and_match_one_process(
    mnist_dir, tmp_path
):
    out = tmp_path / "out"
    coordinator = f"127.0.0.1:{free_port()}"
    commands = [
        worker_command(
            "data-parallel", out, mnist_dir,
            "--coordinator", coordinator, "--num-processes", "2",
            "--process-id", str(i), "--reference-epochs", "1",
        )
        for i in range(2)
    ]
    seconds = run_processes(commands, worker_env("jax"), tmp_path)
    records = [read_record(out, i) for i in range(2)]
    assert [r["runs"]["distributed"]["is_chief"] for r in records] == [
        True, False,
    ]
    for record in records:
        assert_matches_one_device(record, replicas=2)
    first, second = (r["runs"]["distributed"] for r in records)
    assert first["history"] == second["history"]
    assert first["history"]["kl_weight"] == pytest.approx(BETAS)
    weights = [np.load(out / f"process_{i}_distributed.npz") for i in range(2)]
    assert weights[0].files == weights[1].files
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    # Only process 0 wrote SparsityMonitor's TensorBoard files.
    assert list((out / "process_0" / "logs" / "sparsity").iterdir())
    assert not (out / "process_1").exists()
    print(f"JAX, two processes: {seconds:.0f} s")


# -- keras_svd.distribution in one process (cheap, every backend) ----------


@pytest.mark.parametrize(
    "name, backend, message",
    [
        ("mirrored", "jax",
         "'mirrored' (tf.distribute.MirroredStrategy) needs the tensorflow "
         "backend, but the Keras backend is jax; set KERAS_BACKEND="
         "tensorflow, or use 'data-parallel'"),
        ("data-parallel", "tensorflow",
         "'data-parallel' (keras.distribution.DataParallel) needs the jax "
         "backend, but the Keras backend is tensorflow; set KERAS_BACKEND="
         "jax, or use 'mirrored' (one machine)."),
        ("mirrored", "torch",
         "or use none: Keras's fit has no data parallelism on torch."),
    ],
)
def test_a_distribution_on_the_wrong_backend_says_what_works(
    name, backend, message
):
    with pytest.raises(distribution.DistributionUnavailableError) as info:
        distribution.check_distribution(name, backend=backend)
    assert message in str(info.value)


def test_several_processes_need_data_parallel_on_jax():
    with pytest.raises(
        distribution.DistributionUnavailableError, match="keras#20585"
    ):
        distribution.check_distribution(
            "mirrored", backend="tensorflow", multi_process=True
        )
    distribution.check_distribution(
        "data-parallel", backend="jax", multi_process=True
    )
    with pytest.raises(ValueError, match="distribution must be one of"):
        distribution.check_distribution("horovod")


def test_batches_must_split_over_devices_and_processes(monkeypatch):
    monkeypatch.setattr(
        keras.distribution, "list_devices", lambda: ["cpu:0", "cpu:1"]
    )
    check = distribution.check_batches
    check("data-parallel", 100, {"train_size": 2050})
    check("none", 101, {"train_size": 7})
    with pytest.raises(ValueError, match="of 2. Received: batch_size=101"):
        check("data-parallel", 101, {"train_size": 2020})
    with pytest.raises(ValueError, match="train_size=2051 has 51 examples"):
        check("data-parallel", 100, {"train_size": 2051})
    monkeypatch.setattr(distribution, "process_count", lambda: 2)
    with pytest.raises(
        ValueError, match="of the batch size 100. Received: test_size=50"
    ):
        check("data-parallel", 100, {"train_size": 2000, "test_size": 50})


def test_one_process_is_the_chief_and_scope_none_is_one_device():
    assert distribution.is_chief()
    assert distribution.process_index() == 0
    assert distribution.process_count() == 1
    with distribution.scope("none") as chosen:
        assert chosen is None


def _tiny_data(n=64):
    rng = np.random.default_rng(0)
    return (
        rng.random((n, 28, 28, 1)).astype("float32"),
        rng.integers(0, 10, n).astype("int32"),
    )


def test_a_process_other_than_the_chief_measures_but_writes_nothing(
    monkeypatch, tmp_path, capsys
):
    from keras_svd import training
    from keras_svd.callbacks import sparsity_monitor

    monkeypatch.setattr(distribution, "is_chief", lambda: False)
    monkeypatch.setattr(sparsity_monitor, "is_chief", lambda: False)
    model = keras_svd.models.lenet_300_100(units=(8, 8))
    recipe = types.SimpleNamespace(
        name="quick", epochs=1, batch_size=32, learning_rate=1e-3,
        kl_schedule=1.0, train_clip=False, learning_rate_at=lambda e: 1e-3,
    )
    data = _tiny_data()
    monitor = keras_svd.callbacks.SparsityMonitor(
        verbose=1, log_dir=str(tmp_path / "logs")
    )
    monkeypatch.setattr(
        training, "SparsityMonitor", lambda **kwargs: monitor
    )
    result = training.run_recipe(
        model, recipe, data, data, num_train_examples=64,
        dataset_name="random", model_name="lenet-300-100",
        output=str(tmp_path / "out"), verbose=0,
    )
    assert result["num_train_examples"] == 64
    assert monitor.last_report is not None  # It measured.
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "logs").exists()
    assert "SparsityMonitor" not in capsys.readouterr().out


def test_save_model_saves_from_the_chief(tmp_path):
    model = keras_svd.models.lenet_300_100(units=(8, 8))
    distribution.save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x, _ = _tiny_data(4)
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)
