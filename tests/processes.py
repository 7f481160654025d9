"""Runs processes for the data-parallel tests, bounded and cleaned up."""

import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).parent.parent
# Seconds for a test's processes together; they took 30 to 60 s on two
# busy CPU cores.
TIMEOUT = 420


def free_port():
    """A TCP port free on 127.0.0.1 now (the coordinator binds it next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env(backend, **extra):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env.update(extra)
    return env


def run_processes(commands, env, log_dir, timeout=TIMEOUT):
    """Runs the commands at once; kills every one left on any failure.

    A process that fails ends the wait at once (the others of a job would
    wait for it until JAX's own timeouts); past `timeout` seconds the test
    fails. Either way the processes still running are killed, by their own
    ids. Returns the seconds they took. Each process's output goes to
    `log_dir/process_<i>.log`, whose end a failure shows.
    """
    processes, logs = [], []
    start = time.monotonic()
    try:
        for i, command in enumerate(commands):
            log = open(log_dir / f"process_{i}.log", "wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    command, env=env, cwd=ROOT, stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        while any(process.poll() is None for process in processes):
            if any(process.poll() for process in processes):
                break  # One failed: the others would wait for it.
            if time.monotonic() - start > timeout:
                pytest.fail(
                    f"the processes ran past {timeout} s:\n" + tails(log_dir)
                )
            time.sleep(0.2)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
    codes = [process.returncode for process in processes]
    assert codes == [0] * len(codes), f"exit codes {codes}\n" + tails(log_dir)
    return time.monotonic() - start


def tails(log_dir, lines=25):
    return "\n".join(
        f"--- {path.name}:\n"
        + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        for path in sorted(log_dir.glob("process_*.log"))
    )
