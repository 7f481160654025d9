"""What the `keras_svd.plots` functions share: matplotlib, figures, saving.

matplotlib is imported here only when a plot is drawn, never when
`keras_svd` is imported; the backend is left to matplotlib (and to the
caller: the `keras-svd` command selects Agg itself).
"""

import math
import os

# The extra that installs matplotlib (setup.py's `extras_require`).
INSTALL_HINT = 'pip install "keras-svd[notebooks]"'


def import_pyplot(caller):
    """Imports and returns `matplotlib.pyplot`, with an install hint.

    Args:
        caller: the name of the plotting function, for the message.

    Returns:
        The `matplotlib.pyplot` module.

    Raises:
        ImportError: when matplotlib is not installed.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            f"keras_svd.plots.{caller} needs matplotlib, which is not "
            f"installed. Install it with `{INSTALL_HINT}` (or "
            "`pip install matplotlib`)."
        ) from e
    return plt


def check_figure(fig, plt):
    """Checks `fig`: None or an empty matplotlib `Figure`."""
    if fig is None:
        return
    if not isinstance(fig, plt.Figure):
        raise ValueError(
            f"fig must be a matplotlib Figure or None. Received: fig={fig!r}"
        )
    if fig.axes:
        raise ValueError(
            "fig must be an empty Figure (this function lays out its own "
            f"panels). Received: fig with {len(fig.axes)} axes"
        )


def check_axes(ax, plt):
    """Checks `ax`: None or a matplotlib `Axes`."""
    if ax is not None and not isinstance(ax, plt.Axes):
        raise ValueError(
            f"ax must be a matplotlib Axes or None. Received: ax={ax!r}"
        )


def check_path(path):
    """Checks `path`: None or a file path (str or os.PathLike)."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ValueError(
            f"path must be a file path or None. Received: path={path!r}"
        )


def panel_grid(plt, fig, count, panel_size, max_columns):
    """Adds `count` panels to `fig` (a new figure when None), row by row.

    Args:
        plt: `matplotlib.pyplot`.
        fig: an empty `Figure` or None.
        count: number of panels (>= 1).
        panel_size: (width, height) of one panel in inches, for a new
            figure.
        max_columns: the most panels per row (the grid is otherwise as
            square as the count allows).

    Returns:
        `(fig, axes)`, `axes` a list of `count` Axes (no spare ones).
    """
    columns = min(max_columns, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / columns)
    if fig is None:
        width, height = panel_size
        # Room for the suptitle and the figure-wide labels.
        fig = plt.figure(
            figsize=(width * columns + 1.2, height * rows + 1.0),
            layout="constrained",
        )
    axes = [fig.add_subplot(rows, columns, i + 1) for i in range(count)]
    return fig, axes


def save(fig, path):
    """Saves `fig` to `path` (format from the extension) unless None."""
    if path is not None:
        fig.savefig(os.fspath(path), bbox_inches="tight")
    return fig


__all__ = [
    "INSTALL_HINT",
    "check_axes",
    "check_figure",
    "check_path",
    "import_pyplot",
    "panel_grid",
    "save",
]
