"""Ready `keras_tuner.Objective`s for the accuracy / compression trade-off.

Each names a score that `keras_svd.tuner.TradeoffScores` writes into the
logs (`keras_svd.tuner.SparseVDHyperModel` adds that callback to every
trial); all are maximized and always finite (`FLOOR`, -1.0, where a score
means nothing: during the KL warm-up, at chance accuracy, with every weight
pruned).

- `TRADEOFF`: `val_tradeoff = val_accuracy + weight * log10(compression)`,
  one number for both goals when you can say what compression is worth
  (`weight=0.1`: 10x compression is worth 0.1 accuracy).
- `CONSTRAINED_ACCURACY`: `val_constrained_accuracy`, the validation
  accuracy of the trials that reach `min_compression`; the others rank
  below, by compression. For "the most accurate model at least 50x
  smaller".
- `COMPRESSION`: `capped_compression`, the compression capped at
  `max_compression`, for "the smallest model"; pair it with early stopping
  or read `pareto_front` to keep the accuracy in view.
"""

import keras_tuner

from keras_svd.tuner.tradeoff_scores import CAPPED_COMPRESSION_KEY
from keras_svd.tuner.tradeoff_scores import CONSTRAINED_ACCURACY_KEY
from keras_svd.tuner.tradeoff_scores import TRADEOFF_KEY

TRADEOFF = keras_tuner.Objective(TRADEOFF_KEY, direction="max")
CONSTRAINED_ACCURACY = keras_tuner.Objective(
    CONSTRAINED_ACCURACY_KEY, direction="max"
)
COMPRESSION = keras_tuner.Objective(CAPPED_COMPRESSION_KEY, direction="max")

__all__ = ["COMPRESSION", "CONSTRAINED_ACCURACY", "TRADEOFF"]
