"""Figures of a Sparse VD model and its training (needs matplotlib).

Every function draws with matplotlib, imported when it is called (install
it with `pip install "keras-svd[notebooks]"`), takes an optional `ax` (one
panel) or `fig` (several) to draw on and an optional `path` to save to,
and returns the matplotlib `Figure`:

- `plot_training_history`: sparsity (%) and the KL weight over the epochs;
- `plot_weight_masks`: a Dense or Conv2D layer's kept weights as images;
- `plot_log_alpha_histograms`: log alpha per variational layer, with the
  pruning threshold;
- `plot_mc_spread`: the spread of Monte-Carlo class probabilities;
- `plot_pareto_front`: a keras-tuner search's accuracy / compression trade-off.
"""

from keras_svd.plots.plot_log_alpha_histograms import plot_log_alpha_histograms
from keras_svd.plots.plot_mc_spread import plot_mc_spread
from keras_svd.plots.plot_pareto_front import plot_pareto_front
from keras_svd.plots.plot_training_history import plot_training_history
from keras_svd.plots.plot_weight_masks import plot_weight_masks

__all__ = [
    "plot_log_alpha_histograms",
    "plot_mc_spread",
    "plot_pareto_front",
    "plot_training_history",
    "plot_weight_masks",
]
