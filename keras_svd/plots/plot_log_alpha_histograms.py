"""`plot_log_alpha_histograms`: log alpha of each variational layer."""

import numpy as np
from keras import ops

from keras_svd.model_utils import require_built
from keras_svd.model_utils import require_variational_layers
from keras_svd.plots.figure_utils import check_figure
from keras_svd.plots.figure_utils import check_path
from keras_svd.plots.figure_utils import import_pyplot
from keras_svd.plots.figure_utils import panel_grid
from keras_svd.plots.figure_utils import save
from keras_svd.validation import check_positive_int
from keras_svd.variational_ops import LOG_ALPHA_MAX
from keras_svd.variational_ops import LOG_ALPHA_MIN


def plot_log_alpha_histograms(model, bins=50, fig=None, path=None):
    """Histograms of log alpha, one panel per variational layer.

    In Sparse Variational Dropout (Molchanov et al., ICML 2017) a weight is
    pruned when its log alpha (the log of its noise-to-signal ratio
    sigma^2 / theta^2) is at or above the layer's `threshold` (3 by
    default). Each panel shows a layer's log alphas (kernel weights only,
    the counts on a log scale), the threshold as a red dashed vertical line
    and, in the title, the fraction of weights at or above it: the layer's
    sparsity, as `keras_svd.measure_sparsity` counts it. A trained layer
    shows two modes, the kept weights on the left and the pruned ones piled
    up at the clip value 8 on the right.

    Args:
        model: a built Keras model with variational layers (nested models
            included), or a list of variational layers.
        bins: the number of bins per histogram, a positive integer.
        fig: optional empty matplotlib `Figure` to draw on; a new figure
            otherwise.
        path: optional file to save the figure to (PNG, PDF, SVG, ...).

    Returns:
        The matplotlib `Figure`.

    Raises:
        ImportError: when matplotlib is not installed.
        ValueError: when the model has no variational layer, a layer is not
            built, or `bins` is not a positive integer.

    Example:

    ```python
    keras_svd.plots.plot_log_alpha_histograms(model, path="log_alpha.png")
    ```
    """
    plt = import_pyplot("plot_log_alpha_histograms")
    check_figure(fig, plt)
    check_path(path)
    bins = check_positive_int(bins, "bins")
    layers = require_variational_layers(model)
    require_built(layers, model)
    # One transfer to the host for all the layers.
    flat = [ops.reshape(layer.log_alpha(), (-1,)) for layer in layers]
    sizes = [int(part.shape[0]) for part in flat]
    values = ops.convert_to_numpy(ops.concatenate(flat)).astype(np.float64)
    parts = np.split(values, np.cumsum(sizes)[:-1])

    fig, axes = panel_grid(plt, fig, len(layers), (3.6, 2.6), max_columns=4)
    for ax, layer, part in zip(axes, layers, parts):
        threshold = float(layer.threshold)
        low = min(LOG_ALPHA_MIN, float(np.min(part)), threshold)
        high = max(LOG_ALPHA_MAX, float(np.max(part)), threshold)
        ax.hist(part, bins=bins, range=(low, high), color="tab:blue",
                log=True)
        ax.axvline(threshold, color="tab:red", linestyle="--",
                   label=f"threshold {threshold:g}")
        pruned = float(np.mean(part >= threshold))
        ax.set_title(
            f"{layer.name}: {100 * pruned:.1f}% at or above {threshold:g} "
            "(pruned)",
            fontsize=9,
        )
        ax.set_xlabel("log α (log σ² / θ², no unit)")
        ax.set_ylabel("kernel weights (count)")
        ax.legend(fontsize="small", loc="upper center")
    fig.suptitle(
        f"log α per layer of {getattr(model, 'name', 'the model')} "
        f"({len(values):,} kernel weights)"
    )
    return save(fig, path)


__all__ = ["plot_log_alpha_histograms"]
