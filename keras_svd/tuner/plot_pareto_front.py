"""`plot_pareto_front`: a search's trials by accuracy and compression."""

import math

from keras_svd.tuner.pareto_front import pareto_front


def plot_pareto_front(tuner_or_directory, ax=None, path=None):
    """Plots every trial's validation accuracy against its compression.

    The trials are grey dots, the Pareto-optimal ones (see
    `keras_svd.tuner.pareto_front`) red and joined by a step line, the
    compression on a log scale. Trials with every weight pruned (infinite
    compression) are left out of the plot. Needs matplotlib
    (`pip install "keras-svd[tuner]"`).

    Args:
        tuner_or_directory: a `keras_tuner` tuner, the folder of a search,
            or the list that `pareto_front` returned.
        ax: optional matplotlib `Axes` to draw on; a new figure otherwise.
        path: optional file to save the figure to (PNG, PDF, SVG, ...).

    Returns:
        The matplotlib `Axes`.

    Raises:
        ImportError: when matplotlib is not installed.
        ValueError: as `pareto_front`.

    Example:

    ```python
    keras_svd.tuner.plot_pareto_front("search/mlp", path="front.png")
    ```
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            "plot_pareto_front needs matplotlib, which is not installed. "
            'Install it with `pip install "keras-svd[tuner]"` (or '
            "`pip install matplotlib`)."
        ) from e
    if isinstance(tuner_or_directory, list):
        points = tuner_or_directory
    else:
        points = pareto_front(tuner_or_directory)
    points = [p for p in points if math.isfinite(p["compression"])]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    others = [p for p in points if not p["pareto_optimal"]]
    front = sorted(
        (p for p in points if p["pareto_optimal"]),
        key=lambda p: p["compression"],
    )
    ax.scatter(
        [p["compression"] for p in others],
        [p["val_accuracy"] for p in others],
        color="0.6",
        label="trials",
    )
    ax.step(
        [p["compression"] for p in front],
        [p["val_accuracy"] for p in front],
        where="post",
        color="tab:red",
        marker="o",
        label="Pareto front",
    )
    for p in front:
        ax.annotate(
            str(p["trial_id"]),
            (p["compression"], p["val_accuracy"]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
        )
    ax.set_xscale("log")
    ax.set_xlabel("compression |W| / |W != 0|")
    ax.set_ylabel("validation accuracy")
    ax.legend()
    if path is not None:
        ax.figure.savefig(path, bbox_inches="tight")
    return ax


__all__ = ["plot_pareto_front"]
