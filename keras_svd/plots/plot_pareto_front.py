"""`plot_pareto_front`: `keras_svd.tuner.plot_pareto_front`, as a Figure."""

from keras_svd.plots.figure_utils import check_axes
from keras_svd.plots.figure_utils import check_path
from keras_svd.plots.figure_utils import import_pyplot
from keras_svd.tuner import plot_pareto_front as _tuner_plot


def plot_pareto_front(tuner_or_directory, ax=None, path=None):
    """Plots a search's trials by validation accuracy and compression.

    The drawing is `keras_svd.tuner.plot_pareto_front`'s (the trials grey,
    the Pareto-optimal ones red and joined by a step line, compression on a
    log scale); this returns its `Figure`, as every `keras_svd.plots`
    function does, where the tuner's function returns the `Axes`.

    Args:
        tuner_or_directory: a `keras_tuner` tuner, the folder of a search,
            or the list that `keras_svd.tuner.pareto_front` returned.
        ax: optional matplotlib `Axes` to draw on; a new figure otherwise.
        path: optional file to save the figure to (PNG, PDF, SVG, ...).

    Returns:
        The matplotlib `Figure`.

    Raises:
        ImportError: when matplotlib is not installed.
        ValueError: as `keras_svd.tuner.pareto_front`.

    Example:

    ```python
    keras_svd.plots.plot_pareto_front("search/mlp", path="front.png")
    ```
    """
    plt = import_pyplot("plot_pareto_front")
    check_axes(ax, plt)
    check_path(path)
    ax = _tuner_plot(tuner_or_directory, ax=ax, path=None)
    if not ax.get_title():
        ax.set_title("Trials by accuracy and compression (Pareto front red)")
    if path is not None:
        ax.figure.savefig(path, bbox_inches="tight")
    return ax.figure


__all__ = ["plot_pareto_front"]
