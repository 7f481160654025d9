"""Sparsity of the variational layers: one measurement and the paper's table.

`measure_sparsity` counts, per variational layer, the kernel weights that
are kept (log alpha below the layer's `threshold`) and returns a report;
`sparsity_report` and `compression_ratio` are views of that report, and
`sparsity_table` formats it as the per-layer table of Molchanov, Ashukha &
Vetrov (ICML 2017). `keras_svd.callbacks.SparsityMonitor`, the training
helpers and the `keras-svd` command all use these.
"""

import math

import keras
from keras import ops

from keras_svd.model_utils import all_layers
from keras_svd.model_utils import require_built
from keras_svd.model_utils import require_variational_layers
from keras_svd.validation import is_integer


def measure_sparsity(model, step=None):
    """Counts the kept kernel weights of every variational layer.

    A weight is pruned when its log alpha is at or above the layer's
    `threshold`; only kernels count, as in the paper's tables. The counts
    are integers computed where the weights live (GPU included) from each
    layer's `pruning_mask()`, and brought to the host in one transfer: a
    vector of one integer per layer (plus `step`).

    Args:
        model: a Keras model (or layer) containing variational layers,
            nested models included, or a list of variational layers.
        step: optional scalar tensor or variable (such as
            `model.optimizer.iterations`) read in the same transfer.

    Returns:
        A dict with `rows` (one dict per layer: `layer` (name), `weights`
        (kernel size), `kept` (weights kept) and `sparsity` (the fraction
        pruned, in [0, 1])), the model's totals `weights`, `kept` and
        `sparsity`, and `compression` (`weights / kept`, the paper's
        `|W| / |W != 0|`; `inf` when every weight is pruned). With `step`,
        also `step`, an int.

    Raises:
        ValueError: when there is no variational layer.

    Example:

    ```python
    report = keras_svd.measure_sparsity(model)
    print(report["sparsity"], report["compression"])
    print(keras_svd.sparsity_table(report))
    ```
    """
    layers = require_variational_layers(model)
    require_built(layers, model)
    if step is not None and not (
        is_integer(step)
        or ops.is_tensor(step)
        or isinstance(step, keras.Variable)
    ):
        raise ValueError(
            "step must be None, an integer, or a scalar tensor or variable. "
            f"Received: step={step!r}"
        )
    masks = [layer.pruning_mask() for layer in layers]
    sizes = [math.prod(mask.shape) for mask in masks]
    # int32: a float32 sum is inexact past 2^24 weights.
    counts = [ops.sum(ops.cast(mask, "int32")) for mask in masks]
    if step is not None:
        counts.append(ops.cast(step, "int32"))
    counts = ops.convert_to_numpy(ops.stack(counts)).tolist()
    measured_step = counts.pop() if step is not None else None
    report = _report([layer.name for layer in layers], sizes, counts)
    if step is not None:
        report["step"] = int(measured_step)
    return report


def _report(names, sizes, kept_counts):
    rows = [
        {
            "layer": name,
            "weights": int(size),
            "kept": int(kept),
            "sparsity": 1.0 - int(kept) / size,
        }
        for name, size, kept in zip(names, sizes, kept_counts)
    ]
    total = sum(row["weights"] for row in rows)
    kept = sum(row["kept"] for row in rows)
    return {
        "rows": rows,
        "weights": total,
        "kept": kept,
        "sparsity": 1.0 - kept / total,
        "compression": float("inf") if kept == 0 else total / kept,
    }


def measure_zeros(model):
    """`measure_sparsity` for a plain model: its zero kernel weights.

    For a model without variational layers, such as the copy that
    `keras_svd.strip_variational` exports (the pruned weights are zeros
    there), every layer with a `kernel` (Dense, Conv2D, ..., nested models
    included) gets a row whose kept weights are the non-zero ones.

    Args:
        model: a built Keras model or layer.

    Returns:
        A dict as `measure_sparsity` returns.

    Raises:
        ValueError: when no layer has a kernel.
    """
    layers = [
        layer
        for layer in all_layers(model)
        if getattr(layer, "kernel", None) is not None
    ]
    if not layers:
        raise ValueError(
            "The model has no layer with a kernel (Dense, Conv2D, ...) to "
            f"count. Received: model={getattr(model, 'name', model)!r}"
        )
    kernels = [layer.kernel for layer in layers]
    counts = ops.convert_to_numpy(
        ops.stack(
            [ops.count_nonzero(ops.convert_to_tensor(k)) for k in kernels]
        )
    ).tolist()
    sizes = [math.prod(kernel.shape) for kernel in kernels]
    return _report([layer.name for layer in layers], sizes, counts)


def sparsity_report(model):
    """Per-layer counts of kept and pruned kernel weights.

    A weight is pruned when its log alpha is at or above the layer's
    `threshold`. Only kernels count, as in the paper's tables.

    Args:
        model: a Keras model containing variational layers.

    Returns:
        A list of dicts, one per variational layer, with keys `layer` (name),
        `weights` (kernel size), `kept` (weights kept) and `sparsity` (the
        fraction pruned, in [0, 1]).

    Example:

    ```python
    for row in keras_svd.sparsity_report(model):
        print(f"{row['layer']}: {100 * row['sparsity']:.1f}% pruned")
    ```
    """
    return measure_sparsity(model)["rows"]


def compression_ratio(model):
    """All kernel weights divided by the kept ones (biases excluded).

    Args:
        model: a Keras model containing variational layers.

    Returns:
        A float >= 1; `inf` when every weight is pruned.
    """
    return measure_sparsity(model)["compression"]


def sparsity_table(report, title=None):
    """Formats a sparsity report as the per-layer table of the paper.

    Args:
        report: a dict as returned by `measure_sparsity` (`rows` of
            `layer`, `weights`, `kept`, `sparsity`; totals `weights`,
            `kept`, `sparsity`; `compression`). Rows may hold more keys.
        title: optional first line.

    Returns:
        A multi-line string: layer, weights, kept and sparsity % per layer,
        the totals, and the compression `|W| / |W != 0|`.

    Example:

    ```python
    print(keras_svd.sparsity_table(keras_svd.measure_sparsity(model)))
    ```
    """
    _check_report(report)
    if title is not None and not isinstance(title, str):
        raise ValueError(
            f"title must be None or a str. Received: title={title!r}"
        )
    total = {
        "layer": "Total",
        "weights": report["weights"],
        "kept": report["kept"],
        "sparsity": report["sparsity"],
    }
    rows = [
        (
            row["layer"],
            f"{row['weights']:,}",
            f"{row['kept']:,}",
            f"{100.0 * row['sparsity']:.2f}",
        )
        for row in [*report["rows"], total]
    ]
    headers = ("Layer", "Weights", "Kept", "Sparsity %")
    widths = [
        max(len(cells[i]) for cells in [headers, *rows])
        for i in range(len(headers))
    ]

    def line(cells):
        name, *numbers = cells
        return "  ".join(
            [f"{name:<{widths[0]}}"]
            + [f"{cell:>{width}}" for cell, width in zip(numbers, widths[1:])]
        )

    rule = "-" * len(line(headers))
    lines = [] if title is None else [title]
    lines += [line(headers), rule, *map(line, rows[:-1]), rule, line(rows[-1])]
    compression = report["compression"]
    ratio = f"{compression:.1f}x" if math.isfinite(compression) else "inf"
    lines.append(f"Compression |W| / |W != 0|: {ratio}")
    return "\n".join(lines)


_REPORT_KEYS = ("rows", "weights", "kept", "sparsity", "compression")
_ROW_KEYS = ("layer", "weights", "kept", "sparsity")


def _check_report(report):
    """Raises a `ValueError` naming `report` unless it is a sparsity report."""
    if (
        not isinstance(report, dict)
        or any(key not in report for key in _REPORT_KEYS)
        or not isinstance(report["rows"], (list, tuple))
        or not all(
            isinstance(row, dict) and all(key in row for key in _ROW_KEYS)
            for row in report["rows"]
        )
    ):
        raise ValueError(
            "report must be a dict as measure_sparsity returns (rows of "
            f"{', '.join(_ROW_KEYS)}; totals {', '.join(_REPORT_KEYS[1:])}). "
            f"Received: report={report!r:.200}"
        )


__all__ = [
    "measure_zeros",
    "compression_ratio",
    "measure_sparsity",
    "sparsity_report",
    "sparsity_table",
]
