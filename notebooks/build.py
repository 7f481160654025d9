"""Builds the notebooks of this folder from their sources, and runs them.

Each notebook `NN_name.ipynb` is written from `src/NN_name.py`, a Python file
in the "percent" format: cells start with `# %%` (code), `# %% [markdown]`
(markdown, each line prefixed with `# `) or `# %% [parameters]` (a code cell
tagged `parameters`, which papermill-style runners override by inserting a
cell after it). The line `# %% [setup]` stands for the setup cell shared by
every notebook (`SETUP` below: install the package when it is missing,
report the backend, Keras version and GPU).

    python notebooks/build.py                   # sources -> .ipynb, no outputs
    python notebooks/build.py --execute --quick # and run them (QUICK = True)
    python notebooks/build.py --execute 02      # only notebooks matching "02"

`--execute` runs each notebook headless with nbclient (working directory:
this folder) and stores the outputs, figures included, in the committed
file. `tests/test_notebooks.py` runs them in the QUICK setting in CI.
"""

import argparse
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent

# The repository on GitHub: the one place its name is written (the setup
# cell installs from it on Colab; the README's "Open in Colab" badges use the
# same owner/name).
REPOSITORY = "keras-svd/keras-svd"

SETUP = f'''\
# Installs keras-svd when it is not importable (on Colab), then reports
# where the notebook runs.
REPOSITORY = "{REPOSITORY}"  # GitHub owner/name of keras-svd

import importlib.util
import subprocess
import sys

if importlib.util.find_spec("keras_svd") is None:
    subprocess.check_call([
        sys.executable, "-m", "pip", "install", "-q",
        f"keras-svd[notebooks] @ git+https://github.com/{{REPOSITORY}}",
    ])

import keras
import keras_svd

def visible_gpus():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax
        return sum(d.platform == "gpu" for d in jax.devices())
    import torch
    return torch.cuda.device_count()

print(f"Keras {{keras.__version__}} on {{keras.backend.backend()}}, "
      f"keras-svd {{keras_svd.__version__}}, GPUs visible: {{visible_gpus()}}")'''

CELL = re.compile(r"^# %%(?: \[(markdown|parameters|setup)\])?[ \t]*$", re.M)


def cells_of(source):
    """The `(kind, text)` cells of a percent-format source."""
    marks = list(CELL.finditer(source))
    cells = []
    for mark, following in zip(marks, marks[1:] + [None]):
        end = following.start() if following else len(source)
        text = source[mark.end():end].strip("\n")
        kind = mark.group(1) or "code"
        if kind == "markdown":
            text = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in text.splitlines()
            )
        if kind == "setup":
            text = SETUP
        cells.append((kind, text))
    return cells


def notebook_of(source):
    """An nbformat notebook (no outputs) of a percent-format source."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "accelerator": "GPU",
        "colab": {"provenance": []},
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    for kind, text in cells_of(source):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
        notebook.cells.append(cell)
    # Stable ids: a rebuild of an unchanged source changes nothing.
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number:02d}"
    return notebook


def with_parameters(notebook, assignments):
    """A copy with a cell of `assignments` after the `parameters` cell."""
    import copy

    import nbformat

    notebook = copy.deepcopy(notebook)
    for index, cell in enumerate(notebook.cells):
        if "parameters" in cell.metadata.get("tags", []):
            injected = nbformat.v4.new_code_cell(assignments)
            injected.metadata["tags"] = ["injected-parameters"]
            injected.id = "injected-parameters"
            notebook.cells.insert(index + 1, injected)
            return notebook
    raise ValueError("the notebook has no cell tagged `parameters`")


def execute(notebook, quick, timeout=1800):
    """Runs `notebook` headless in this folder; returns it with outputs."""
    from nbclient import NotebookClient

    run = with_parameters(notebook, "QUICK = True") if quick else notebook
    NotebookClient(
        run,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    ).execute()
    _drop_native_logs(run)
    if quick:
        # Keep the file's cells as built (the injected cell would churn the
        # source); the QUICK setting is stated in the first markdown cell.
        injected = [c.id for c in run.cells].index("injected-parameters")
        run.cells.pop(injected)
    return run


# TensorFlow's and XLA's C++ log lines (I0000 00:00:... port.cc:153] ...),
# which go to the kernel's stderr whatever TF_CPP_MIN_LOG_LEVEL says before
# absl's logging starts: noise in a committed notebook.
NATIVE_LOG = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\].*"
    r"|WARNING: All log messages before absl::InitializeLog\(\).*"
    r"|To enable the following instructions:.*"
    r"|\[IPKernelApp\] WARNING.*)$\n?",
    re.M,
)


def _drop_native_logs(notebook):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                output.text = NATIVE_LOG.sub("", output.text)
                if not output.text.strip():
                    continue
            kept.append(output)
        cell.outputs = kept


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="substrings of names")
    parser.add_argument("--execute", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    import nbformat

    for source_path in sorted((HERE / "src").glob("[0-9][0-9]_*.py")):
        name = source_path.stem
        if args.only and not any(part in name for part in args.only):
            continue
        notebook = notebook_of(source_path.read_text())
        if args.execute:
            print(f"running {name} (QUICK={args.quick}) ...", flush=True)
            notebook = execute(notebook, args.quick)
        path = HERE / f"{name}.ipynb"
        nbformat.write(notebook, str(path))
        print(f"wrote {path.relative_to(HERE.parent)} "
              f"({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
