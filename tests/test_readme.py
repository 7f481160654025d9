"""Every Python block of README.md runs as written, in order, on real MNIST.

The fixture shrinks the work, never the code the user sees: `load_numpy`
returns the first examples of the real files and `fit` runs one epoch.
"""

import pathlib
import re

import keras
import numpy as np
import pytest

import keras_svd

README = pathlib.Path(__file__).parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.fixture
def small_runs(monkeypatch, mnist_dir, tmp_path):
    folder = pathlib.Path(mnist_dir).resolve()  # before the chdir below
    monkeypatch.setenv("KERAS_SVD_MNIST_DIR", str(folder))
    monkeypatch.delenv("KERAS_SVD_LOCAL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    load_numpy = keras_svd.datasets.load_numpy
    loaded = []

    def small_load_numpy(*args, **kwargs):
        (x_train, y_train), (x_test, y_test) = load_numpy(*args, **kwargs)
        loaded.append(len(x_train))
        return (x_train[:600], y_train[:600]), (x_test[:100], y_test[:100])

    fit = keras.Model.fit

    def one_epoch_fit(self, *args, **kwargs):
        kwargs["epochs"] = 1
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(keras_svd.datasets, "load_numpy", small_load_numpy)
    monkeypatch.setattr(keras.Model, "fit", one_epoch_fit)
    return loaded


def test_readme_has_the_examples():
    blocks = _python_blocks()
    assert len(blocks) >= 4
    assert "load_numpy(\"mnist\")" in blocks[0]


def test_readme_python_blocks_run_as_written(small_runs, tmp_path):
    namespace = {"__name__": "readme"}
    for number, block in enumerate(_python_blocks()):
        try:
            exec(compile(block, f"README.md block {number}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"README.md block {number} fails: {error!r}\n{block}")
    # It read the real files (all 60,000 examples), from the variable.
    assert small_runs == [60000]
    assert (tmp_path / "pruned.keras").is_file()
    result = namespace["result"]
    assert result.mean.shape == (100, 10)
    assert np.allclose(result.mean.sum(axis=1), 1.0, atol=1e-4)
