"""`TradeoffScores`: logs scores of the accuracy / compression trade-off."""

import copy
import math
import warnings

import keras

from keras_svd.sparsity import measure_sparsity
from keras_svd.validation import check_finite_number
from keras_svd.validation import is_integer
from keras_svd.validation import is_number

# The value of every score in an epoch where it means nothing. Finite (some
# oracles, Bayesian optimization among them, fail on infinities) and below
# every meaningful value: the trade-off is >= 0, the constrained accuracy
# > -1 and the capped compression >= 1.
FLOOR = -1.0

TRADEOFF_KEY = "val_tradeoff"
CONSTRAINED_ACCURACY_KEY = "val_constrained_accuracy"
CAPPED_COMPRESSION_KEY = "capped_compression"
KEPT_WEIGHTS_KEY = "kept_weights"


class TradeoffScores(keras.callbacks.Callback):
    """Writes scores of the accuracy / compression trade-off into the logs.

    Sparse Variational Dropout (Molchanov et al., ICML 2017) trades accuracy
    for compression (`|W| / |W != 0|`, the kernel weights over the kept
    ones). A hyperparameter search needs one number to rank the trials by;
    at the end of every epoch this callback writes three of them, each
    `FLOOR` (-1.0) where it would mean nothing:

    - `val_tradeoff = val_accuracy + weight * log10(compression)`: with
      `weight=0.1`, ten times more compression is worth 0.1 of accuracy.
    - `val_constrained_accuracy`: `val_accuracy` when `compression >=
      min_compression`, else the penalty `compression / min_compression - 1`
      (in (-1, 0): below any accuracy that meets the floor, and still higher
      for more compressed trials).
    - `capped_compression = min(compression, max_compression)`.

    and `kept_weights`, the kernel weights kept (and `compression` when no
    `keras_svd.callbacks.SparsityMonitor` wrote it).

    An epoch's scores are `FLOOR` when it is still in the KL warm-up (its
    index is below `warmup_epochs`, or the logged `kl_weight` is 0: the
    accuracy is that of an unregularized network and the best epoch of the
    trial, which keras-tuner keeps, must come after the warm-up), when
    `val_accuracy` is at or below chance (a network that predicts nothing
    compresses well), is NaN, or when every weight is pruned (compression
    `inf`). The scores are always finite.

    Place this callback after `KLAnnealing` and `SparsityMonitor`, and
    before the callbacks that read the scores (EarlyStopping,
    ModelCheckpoint, keras-tuner's own, which come last).
    `keras_svd.tuner.SparseVDHyperModel` does this for each trial.

    Args:
        weight: the weight of `log10(compression)` in `val_tradeoff`, a
            number >= 0.
        min_compression: the compression floor of
            `val_constrained_accuracy`, a number >= 1.
        max_compression: the cap of `capped_compression`, a number > 1.
        warmup_epochs: integer >= 0, the epochs of the KL warm-up (beta < 1)
            whose scores are `FLOOR`.
        chance_accuracy: the accuracy at or below which the scores are
            `FLOOR`, in [0, 1); None (default) for `1 / classes`, with
            `classes` the last dimension of the model's output (0 for a
            single output unit).
        monitor: the logged accuracy, `"val_accuracy"` by default (fit with
            validation data and `metrics=["accuracy"]`).

    Example:

    ```python
    model.fit(
        x_train, y_train, validation_data=(x_val, y_val), epochs=10,
        callbacks=[
            keras_svd.callbacks.KLAnnealing(
                keras_svd.schedules.LinearWarmup(0, 3)),
            keras_svd.callbacks.SparsityMonitor(),
            keras_svd.tuner.TradeoffScores(weight=0.1, warmup_epochs=3),
        ],
    )
    model.history.history["val_tradeoff"]  # [-1.0, -1.0, -1.0, 0.97, ...]
    ```
    """

    def __init__(
        self,
        weight=0.1,
        min_compression=10.0,
        max_compression=1000.0,
        warmup_epochs=0,
        chance_accuracy=None,
        monitor="val_accuracy",
    ):
        super().__init__()
        self.weight = check_finite_number(weight, "weight", minimum=0)
        self.min_compression = check_finite_number(
            min_compression, "min_compression", minimum=1
        )
        self.max_compression = check_finite_number(
            max_compression, "max_compression", minimum=1
        )
        if self.max_compression <= 1:
            raise ValueError(
                "max_compression must be greater than 1. "
                f"Received: max_compression={max_compression!r}"
            )
        if not is_integer(warmup_epochs) or warmup_epochs < 0:
            raise ValueError(
                "warmup_epochs must be an integer >= 0. "
                f"Received: warmup_epochs={warmup_epochs!r}"
            )
        self.warmup_epochs = int(warmup_epochs)
        if chance_accuracy is not None and (
            not is_number(chance_accuracy)
            or not 0 <= chance_accuracy < 1
        ):
            raise ValueError(
                "chance_accuracy must be None or a number in [0, 1). "
                f"Received: chance_accuracy={chance_accuracy!r}"
            )
        self.chance_accuracy = chance_accuracy
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                "monitor must be the name of a logged accuracy. "
                f"Received: monitor={monitor!r}"
            )
        self.monitor = monitor
        self._chance = None

    def on_train_begin(self, logs=None):
        self._chance = self.chance_accuracy
        if self._chance is None:
            self._chance = _chance_accuracy(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self.monitor not in logs:
            raise ValueError(
                f"TradeoffScores needs {self.monitor!r} in the logs: fit "
                "with validation data and metrics=['accuracy'] (or set "
                f"monitor). Received logs with keys: {sorted(logs)}"
            )
        accuracy = float(logs[self.monitor])
        # `self.model`: on JAX the property syncs the training state first.
        report = measure_sparsity(self.model)
        compression = report["compression"]
        logs.setdefault("compression", compression)
        logs[KEPT_WEIGHTS_KEY] = float(report["kept"])
        if self._is_meaningful(epoch, logs, accuracy, report["kept"]):
            logs[TRADEOFF_KEY] = accuracy + self.weight * math.log10(
                compression
            )
            if compression >= self.min_compression:
                logs[CONSTRAINED_ACCURACY_KEY] = accuracy
            else:
                logs[CONSTRAINED_ACCURACY_KEY] = (
                    compression / self.min_compression - 1.0
                )
            logs[CAPPED_COMPRESSION_KEY] = min(
                compression, self.max_compression
            )
        else:
            for key in (
                TRADEOFF_KEY,
                CONSTRAINED_ACCURACY_KEY,
                CAPPED_COMPRESSION_KEY,
            ):
                logs[key] = FLOOR

    def _is_meaningful(self, epoch, logs, accuracy, kept):
        if epoch < self.warmup_epochs or logs.get("kl_weight", 1.0) == 0:
            return False
        if math.isnan(accuracy) or accuracy <= self._chance:
            return False
        return kept > 0

    def __deepcopy__(self, memo):
        # A copy is for another run (keras-tuner copies the callbacks of
        # each trial): share no model.
        cls = type(self)
        result = cls.__new__(cls)
        memo[id(self)] = result
        for key, value in self.__dict__.items():
            if key != "_model":
                setattr(result, key, copy.deepcopy(value, memo))
        result._model = None
        result._chance = None
        return result


def _chance_accuracy(model):
    try:
        classes = model.outputs[0].shape[-1]
    except (AttributeError, IndexError, TypeError, ValueError):
        classes = None
    if not classes:
        warnings.warn(
            "TradeoffScores could not read the number of classes from the "
            "model's output; pass chance_accuracy. Using 0.",
            stacklevel=3,
        )
        return 0.0
    return 0.0 if classes == 1 else 1.0 / classes


__all__ = ["TradeoffScores"]
