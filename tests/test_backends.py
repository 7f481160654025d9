"""The package on the JAX and PyTorch backends (each in its own process)."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

SMOKE = pathlib.Path(__file__).parent / "backends" / "smoke.py"


@pytest.mark.parametrize("backend, module", [("jax", "jax"), ("torch", "torch")])
def test_layers_callbacks_and_utilities_run_on_backend(backend, module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install {module})")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    root = str(pathlib.Path(__file__).parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(SMOKE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert f"{backend} ok" in proc.stdout
