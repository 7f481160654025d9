"""`plot_training_history`: sparsity and the KL weight over the epochs."""

import csv
import math
import os
from collections.abc import Mapping

import numpy as np

from keras_svd.plots.figure_utils import check_axes
from keras_svd.plots.figure_utils import check_path
from keras_svd.plots.figure_utils import import_pyplot
from keras_svd.plots.figure_utils import save

# Columns written by `keras_svd.callbacks.SparsityMonitor` (`sparsity`, and
# `sparsity/<layer name>` with `per_layer=True`) and by
# `keras_svd.callbacks.KLAnnealing` (`kl_weight`, beta).
SPARSITY = "sparsity"
LAYER_PREFIX = "sparsity/"
KL_WEIGHT = "kl_weight"


def plot_training_history(history, ax=None, path=None):
    """Plots the sparsity (%) and the KL weight beta over the epochs.

    The model-wide sparsity is a solid line and the per-layer sparsities
    (`sparsity/<layer>` columns, which `SparsityMonitor(per_layer=True)`
    writes) dashed lines, all on the left axis in percent; beta, the weight
    of the KL term that `KLAnnealing` logs as `kl_weight`, is on a second
    y-axis on the right. Missing values (`NA` in a CSV, NaN) leave gaps.
    Epochs are numbered from 1, as Keras's progress bar does.

    Args:
        history: the training logs: a `keras.callbacks.History` (what
            `fit` returns), a dict of per-epoch lists (`History.history`;
            an `epoch` key, counted from 0, is used when present), or the
            path of a `history.csv` (what `keras-svd train` and
            `keras.callbacks.CSVLogger` write).
        ax: optional matplotlib `Axes` to draw on; a new figure otherwise.
        path: optional file to save the figure to (PNG, PDF, SVG, ...).

    Returns:
        The matplotlib `Figure`.

    Raises:
        ImportError: when matplotlib is not installed.
        ValueError: when `history` has none of the columns `sparsity`,
            `sparsity/<layer>` and `kl_weight`, has columns of different
            lengths or no epoch, or is of another type.

    Example:

    ```python
    history = model.fit(
        x, y, epochs=20,
        callbacks=[keras_svd.callbacks.KLAnnealing(schedule),
                   keras_svd.callbacks.SparsityMonitor()])
    keras_svd.plots.plot_training_history(history, path="history.png")
    keras_svd.plots.plot_training_history("keras-svd-output/history.csv")
    ```
    """
    plt = import_pyplot("plot_training_history")
    check_axes(ax, plt)
    check_path(path)
    columns = _read_columns(history)
    epochs = _epochs(columns)
    layer_keys = [key for key in columns if key.startswith(LAYER_PREFIX)]
    sparsity_keys = [SPARSITY] * (SPARSITY in columns) + layer_keys
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    handles = []
    for key in sparsity_keys:
        (line,) = ax.plot(
            epochs,
            100.0 * columns[key],
            linestyle="-" if key == SPARSITY else "--",
            linewidth=2.0 if key == SPARSITY else 1.2,
            marker="." if len(epochs) <= 30 else None,
            label=("sparsity (model)" if key == SPARSITY else key),
        )
        handles.append(line)
    if sparsity_keys:
        ax.set_ylabel("sparsity (% of kernel weights pruned)")
        ax.set_ylim(-2.0, 102.0)
        beta_ax = ax.twinx() if KL_WEIGHT in columns else None
    else:
        beta_ax = ax
    if beta_ax is not None:
        (line,) = beta_ax.plot(
            epochs,
            columns[KL_WEIGHT],
            color="0.35",
            linestyle=":",
            linewidth=2.0,
            label="KL weight β",
        )
        handles.append(line)
        beta_ax.set_ylabel("KL weight β (no unit)")
        top = np.nanmax(columns[KL_WEIGHT], initial=1.0)
        beta_ax.set_ylim(-0.02 * top, 1.02 * top)
    ax.set_xlabel("epoch")
    # Whole epochs only: a 3-epoch run gets no 1.25, 1.5, ... ticks.
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Sparsity and KL weight over training")
    ax.legend(handles=handles, loc="best", fontsize="small")
    return save(ax.figure, path)


def _read_columns(history):
    """The logs as `{column: float64 array}`, all of one length."""
    if isinstance(history, (str, os.PathLike)):
        raw = _read_csv(history)
    elif isinstance(getattr(history, "history", None), Mapping):
        raw = dict(history.history)
        epoch = getattr(history, "epoch", None)
        if "epoch" not in raw and epoch is not None and len(epoch):
            raw["epoch"] = list(epoch)
    elif isinstance(history, Mapping):
        raw = dict(history)
    else:
        raise ValueError(
            "history must be a keras.callbacks.History, a dict of per-epoch "
            "lists or the path of a history.csv. "
            f"Received: history={history!r:.100}"
        )
    # Only the plotted columns are read as numbers.
    wanted = (SPARSITY, KL_WEIGHT, "epoch")
    columns = {
        str(key): _floats(key, values)
        for key, values in raw.items()
        if key in wanted or str(key).startswith(LAYER_PREFIX)
    }
    lengths = {key: len(values) for key, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            "Every column of history must have one value per epoch. "
            f"Received: history with column lengths {lengths}"
        )
    if set(columns) <= {"epoch"}:
        raise ValueError(
            "history must hold a 'sparsity' column (written by "
            "keras_svd.callbacks.SparsityMonitor), 'sparsity/<layer>' "
            "columns or a 'kl_weight' column (written by "
            "keras_svd.callbacks.KLAnnealing). Received: history with "
            f"columns {sorted(map(str, raw))}"
        )
    if not next(iter(lengths.values())):
        raise ValueError(
            "history holds no epoch: there is nothing to plot. "
            f"Received: history with columns {sorted(columns)}"
        )
    return columns


def _read_csv(path):
    if not os.path.isfile(path):
        raise ValueError(
            f"history names no file. Received: history={os.fspath(path)!r}"
        )
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(
            "The history CSV has no row of values. "
            f"Received: history={os.fspath(path)!r}"
        )
    return {key: [row[key] for row in rows] for key in rows[0]}


def _floats(key, values):
    """Numbers as float64; "NA", "" and None as NaN (CSVLogger's gaps)."""
    values = np.ravel(np.asarray(values, dtype=object))
    out = np.empty(len(values), np.float64)
    for i, value in enumerate(values):
        if value is None or (isinstance(value, str) and value.strip() in (
            "", "NA", "nan", "NaN"
        )):
            out[i] = math.nan
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Column {key!r} of history holds a value that is not a "
                f"number. Received: history[{key!r}][{i}]={value!r}"
            ) from None
    return out


def _epochs(columns):
    """1-based epoch numbers: the `epoch` column + 1, else 1, 2, ..."""
    epoch = columns.get("epoch")
    count = len(next(iter(columns.values())))
    if epoch is None or np.isnan(epoch).any():
        return np.arange(1, count + 1, dtype=np.float64)
    return epoch + 1.0


__all__ = ["plot_training_history"]
