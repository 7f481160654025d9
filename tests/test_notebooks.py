"""The notebooks of notebooks/ run top to bottom, headless, in QUICK mode.

Each committed notebook is executed with nbclient in its QUICK setting (a
cell `QUICK = True` after the cell tagged `parameters`, as papermill does)
against the real MNIST copy (`KERAS_SVD_MNIST_DIR`); any cell that raises
fails the test. Also checked: each notebook is built from its source in
`notebooks/src/` (no hand edits that the source lacks), carries outputs,
and stays under 1 MB.
"""

import pathlib
import sys

import keras
import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import build  # noqa: E402  (notebooks/build.py)

NAMES = sorted(p.stem for p in (NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))


def test_there_are_four_notebooks():
    assert NAMES == [
        "01_test_time_dropout",
        "02_sparse_variational_dropout",
        "03_tuning",
        "04_deploy",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_built_from_its_source(name):
    committed = nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)
    built = build.notebook_of((NOTEBOOKS / "src" / f"{name}.py").read_text())
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in built.cells
    ], f"notebooks/{name}.ipynb differs from src/{name}.py: rebuild it"
    tagged = [c for c in committed.cells if "parameters" in c.metadata.get(
        "tags", [])]
    assert len(tagged) == 1 and "QUICK = False" in tagged[0].source
    # Executed, with figures, and small.
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "run the notebook first"
    assert (NOTEBOOKS / f"{name}.ipynb").stat().st_size < 1_000_000
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the notebooks run on TensorFlow in CI; their kernel starts "
    "with the default backend",
)
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_quick_mode(name, mnist_dir, fashion_mnist_dir,
                                     monkeypatch):
    monkeypatch.setenv("KERAS_SVD_MNIST_DIR", str(pathlib.Path(
        mnist_dir).resolve()))
    monkeypatch.setenv("KERAS_SVD_FASHION_MNIST_DIR", str(pathlib.Path(
        fashion_mnist_dir).resolve()))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    notebook = build.notebook_of(
        (NOTEBOOKS / "src" / f"{name}.py").read_text()
    )
    executed = build.execute(notebook, quick=True, timeout=900)
    outputs = [o for c in executed.cells if c.cell_type == "code"
               for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, "every notebook draws figures"


def test_readme_links_every_notebook_on_colab_from_the_repository():
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    for name in NAMES:
        url = (
            "https://colab.research.google.com/github/"
            f"{build.REPOSITORY}/blob/main/notebooks/{name}.ipynb"
        )
        assert url in readme, url
