"""`keras-svd train --distribution`: its errors, and a two-process JAX run."""

import importlib.util
import json
import sys

import keras
import pytest

import keras_svd_cli
from keras_svd import distribution
from tests.processes import free_port
from tests.processes import run_processes
from tests.processes import worker_env

MULTI = [
    "--distribution", "data-parallel", "--coordinator", "127.0.0.1:1234",
    "--num-processes", "2", "--process-id", "0", "--seed", "1",
]

# The JAX engines run in subprocesses whatever KERAS_BACKEND is; without
# JAX installed (`pip install -e ".[tests]"` alone) they skip.
NEEDS_JAX = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="JAX is not installed (pip install -e \".[tests,backends]\")",
)


def _without(flag, argv):
    i = argv.index(flag)
    return argv[:i] + argv[i + 2:]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--distribution", "horovod"], "invalid choice: 'horovod'"),
        (["--coordinator", "127.0.0.1:1234"],
         "argument --coordinator: a multi-process run needs --coordinator, "
         "--num-processes and --process-id together"),
        (["--num-processes", "2"], "argument --num-processes: a multi-"),
        (_without("--distribution", MULTI),
         "argument --coordinator: a multi-process run needs --distribution "
         "data-parallel (JAX), not 'none'"),
        (MULTI[:-4] + ["--process-id", "2", "--seed", "1"],
         "argument --process-id: must be below --num-processes 2, got 2"),
        (_without("--seed", MULTI), "argument --seed: a multi-process run "
         "needs --seed N"),
        (["--coordinator", "host-without-port"],
         "must be HOST:PORT (process 0's address), got 'host-without-port'"),
        (["--process-id", "-1"], "must be an integer >= 0, got '-1'"),
        (["--num-processes", "0"], "must be a positive integer, got '0'"),
    ],
)
def test_bad_distribution_arguments_exit_with_a_usage_error(
    extra, message, capsys
):
    with pytest.raises(SystemExit) as exit_info:
        keras_svd_cli.main(["train", "lenet-300-100", *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: keras-svd train")
    assert message in err


def _unsupported(backend):
    return {
        "tensorflow": ["data-parallel"],
        "jax": ["mirrored"],
    }.get(backend, ["mirrored", "data-parallel"])


@pytest.mark.parametrize("name", ["mirrored", "data-parallel"])
def test_a_distribution_the_backend_cannot_do_is_a_usage_error(
    name, tmp_path, monkeypatch, capsys
):
    backend = keras.backend.backend()
    if name not in _unsupported(backend):
        pytest.skip(f"{backend} can do {name}")
    from keras_svd import training

    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(training, "train", fail)
    with pytest.raises(SystemExit) as exit_info:
        keras_svd_cli.main(
            ["train", "lenet-300-100", "--distribution", name,
             "--data-dir", str(tmp_path), "--verbose", "0"]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: keras-svd train")
    needed = "tensorflow" if name == "mirrored" else "jax"
    assert (
        f"keras-svd train: error: argument --distribution: {name!r}" in err
    )
    assert (
        f"needs the {needed} backend, but the Keras backend is {backend}"
    ) in err


def test_the_package_and_the_launcher_agree_on_the_names():
    assert keras_svd_cli.DISTRIBUTIONS == distribution.DISTRIBUTIONS


@NEEDS_JAX
def test_two_jax_processes_train_and_only_process_0_writes(mnist_dir, tmp_path):
    coordinator = f"127.0.0.1:{free_port()}"
    commands = [
        [
            sys.executable, "-m", "keras_svd_cli", "train", "lenet-300-100",
            "--recipe", "quick", "--epochs", "1", "--train-size", "1000",
            "--test-size", "500", "--data-dir", str(mnist_dir),
            "--tfds-dir", str(tmp_path / "tfds"), "--seed", "3",
            "--verbose", "0", "--distribution", "data-parallel",
            "--coordinator", coordinator, "--num-processes", "2",
            "--process-id", str(i), "--output", str(tmp_path / f"out_{i}"),
        ]
        for i in range(2)
    ]
    seconds = run_processes(commands, worker_env("jax"), tmp_path)
    out = tmp_path / "out_0"
    assert sorted(p.name for p in out.iterdir()) == [
        "history.csv", "model.keras", "result.json",
    ]
    # Process 1 trained (it took part in every step) but wrote nothing.
    assert not (tmp_path / "out_1").exists()
    result = json.loads((out / "result.json").read_text())
    assert result["backend"] == "jax"
    # N of the KL term is the whole training set, not a process's half.
    assert result["num_train_examples"] == 1000
    assert sum(row["weights"] for row in result["layers"]) == 266_200
    assert len((out / "history.csv").read_text().splitlines()) == 2
    logs = [(tmp_path / f"process_{i}.log").read_text() for i in range(2)]
    assert "Test error:" in logs[0] and "Test error:" not in logs[1]
    print(f"keras-svd train, two JAX processes: {seconds:.0f} s")
