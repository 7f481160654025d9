"""keras-tuner support: search for the accuracy / compression trade-off.

`SparseVDHyperModel` is the search space (a Sparse VD network, its KL
warm-up, pruning threshold and initialization); `TradeoffScores` logs the
scores that the ready objectives `TRADEOFF`, `CONSTRAINED_ACCURACY` and
`COMPRESSION` name; `pareto_front` and `plot_pareto_front` read the
trials of a search; `run_search` does it all from arrays (what
`keras-svd tune` calls).
"""

from keras_svd.tuner.objectives import COMPRESSION
from keras_svd.tuner.objectives import CONSTRAINED_ACCURACY
from keras_svd.tuner.objectives import TRADEOFF
from keras_svd.tuner.pareto_front import pareto_front
from keras_svd.tuner.plot_pareto_front import plot_pareto_front
from keras_svd.tuner.run_search import run_search
from keras_svd.tuner.sparse_vd_hyper_model import SparseVDHyperModel
from keras_svd.tuner.tradeoff_scores import FLOOR
from keras_svd.tuner.tradeoff_scores import TradeoffScores

__all__ = [
    "COMPRESSION",
    "CONSTRAINED_ACCURACY",
    "FLOOR",
    "SparseVDHyperModel",
    "TRADEOFF",
    "TradeoffScores",
    "pareto_front",
    "plot_pareto_front",
    "run_search",
]
