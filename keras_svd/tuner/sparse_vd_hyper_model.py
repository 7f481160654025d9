"""`SparseVDHyperModel`: a keras-tuner search space of Sparse VD networks."""

import copy
import hashlib
import json
import os

import keras
import keras_tuner

from keras_svd import models
from keras_svd import schedules
from keras_svd.callbacks.kl_annealing import KLAnnealing
from keras_svd.callbacks.sparsity_monitor import SparsityMonitor
from keras_svd.layers.perma_dropout import PermaDropout
from keras_svd.tuner.tradeoff_scores import TradeoffScores
from keras_svd.validation import check_finite_number
from keras_svd.validation import check_positive_int
from keras_svd.validation import is_integer

FAMILIES = ("mlp", "lenet5", "vgg")
# The smallest image side each convolutional family can take.
_MIN_SIDE = {"lenet5": 16, "vgg": 32}


class SparseVDHyperModel(keras_tuner.HyperModel):
    """A keras-tuner search space of Sparse Variational Dropout classifiers.

    Builds one of the paper's networks (Molchanov, Ashukha & Vetrov, ICML
    2017) with variational layers, compiled with Adam and sparse
    categorical cross-entropy on logits (`metrics=["accuracy"]`, so the
    labels are integers), and trains it with the KL warm-up, the sparsity
    log and the trade-off scores of `keras_svd.tuner.TradeoffScores`, so
    that a tuner can rank trials by accuracy, compression or both (see
    `keras_svd.tuner.TRADEOFF`, `CONSTRAINED_ACCURACY`, `COMPRESSION`).
    N, the number of training examples of the KL term, is given here and
    set on every variational layer.

    Hyperparameters (name: default, range), declared in `build`; fix or
    narrow any of them with `keras_tuner.HyperParameters` (`hp.Fixed`,
    `hp.Choice`, ... passed as the tuner's `hyperparameters`, with
    `tune_new_entries=False` to tune only those):

    - all families: `learning_rate` (1e-3, 1e-4 to 1e-2, log),
      `kl_warmup_epochs` (2, 0 to 10: beta rises linearly from 0 at epoch
      0 to 1 at this epoch; 0 trains on the full ELBO from the start),
      `threshold` (3.0, 2.0 to 4.0 step 0.5: the log alpha from which a
      weight is pruned), `log_sigma2_init` (-10, -12 to -6 step 1),
      `train_clip` (True).
    - `"mlp"` (LeNet-300-100's shape, `keras_svd.models.lenet_300_100`):
      `units_1` (300, one of 100, 200, 300, 500), `units_2` (100, one of
      50, 100, 200), `dropout_rate` (0.0, one of 0, 0.1, ..., 0.5: a
      `PermaDropout` before the logits when > 0).
    - `"lenet5"` (`keras_svd.models.lenet5_caffe`): `filters_1` (20, one
      of 10, 20, 32), `filters_2` (50, one of 25, 50, 64), `units` (500,
      one of 250, 500), `dropout_rate` (as for `"mlp"`).
    - `"vgg"` (`keras_svd.models.vgg_like`): `width` (0.25, one of 0.125,
      0.25, 0.5, 1.0). No dropout (batch normalization).

    `fit` adds, unless the `callbacks` already hold one (keras-tuner gives
    each trial deep copies of the search's callbacks, so nothing is shared
    between trials): `KLAnnealing` with the warm-up above, `SparsityMonitor`
    (writing its TensorBoard summaries beside those of a
    `keras.callbacks.TensorBoard` in the callbacks, which keras-tuner
    places in `log_dir/<trial_id>/execution<k>`) and `TradeoffScores`, in
    that order before every other callback.

    Args:
        input_shape: the shape of one input, channels last: rank 3 for
            `"lenet5"` (side >= 16) and `"vgg"` (side >= 32), any rank for
            `"mlp"` (flattened).
        num_classes: integer >= 2, the number of logits.
        num_train_examples: N, the size of the training set (integer >= 1).
        family: `"mlp"`, `"lenet5"` or `"vgg"`.
        tradeoff_weight: the `weight` of `val_tradeoff = val_accuracy +
            weight * log10(compression)` (>= 0).
        min_compression: the compression floor of
            `val_constrained_accuracy` (>= 1).
        max_compression: the cap of `capped_compression` (> 1).
        **kwargs: `name` and `tunable`, as for `keras_tuner.HyperModel`.

    Example:

    ```python
    hypermodel = keras_svd.tuner.SparseVDHyperModel(
        (28, 28, 1), 10, len(x_train), family="mlp", tradeoff_weight=0.1)
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective=keras_svd.tuner.TRADEOFF, max_trials=20,
        directory="search", project_name="mlp")
    tuner.search(x_train, y_train, validation_data=(x_val, y_val),
                 epochs=20, batch_size=100)
    keras_svd.tuner.pareto_front(tuner)
    ```
    """

    def __init__(
        self,
        input_shape,
        num_classes,
        num_train_examples,
        family="mlp",
        tradeoff_weight=0.1,
        min_compression=10.0,
        max_compression=1000.0,
        **kwargs,
    ):
        if family not in FAMILIES:
            raise ValueError(
                f"family must be one of {', '.join(map(repr, FAMILIES))}. "
                f"Received: family={family!r}"
            )
        self.family = family
        self.input_shape = _check_input_shape(input_shape, family)
        if not is_integer(num_classes) or num_classes < 2:
            raise ValueError(
                "num_classes must be an integer >= 2. "
                f"Received: num_classes={num_classes!r}"
            )
        self.num_classes = int(num_classes)
        self.num_train_examples = check_positive_int(
            num_train_examples, "num_train_examples"
        )
        self.tradeoff_weight = check_finite_number(
            tradeoff_weight, "tradeoff_weight", minimum=0
        )
        # Checks the compression bounds now rather than in the first trial.
        TradeoffScores(
            min_compression=min_compression, max_compression=max_compression
        )
        self.min_compression = float(min_compression)
        self.max_compression = float(max_compression)
        kwargs.setdefault("name", f"sparse_vd_{family}")
        super().__init__(**kwargs)

    # -- Search space -------------------------------------------------------

    def build(self, hp):
        learning_rate = hp.Float(
            "learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3
        )
        self._declare_warmup(hp)
        variational_kwargs = {
            "threshold": hp.Float("threshold", 2.0, 4.0, step=0.5, default=3.0),
            "log_sigma2_init": hp.Float(
                "log_sigma2_init", -12.0, -6.0, step=1.0, default=-10.0
            ),
            "train_clip": hp.Boolean("train_clip", default=True),
            "num_train_examples": self.num_train_examples,
        }
        common = {
            "variational": True,
            "input_shape": self.input_shape,
            "num_classes": self.num_classes,
            **variational_kwargs,
        }
        if self.family == "mlp":
            model = models.lenet_300_100(
                units=(
                    hp.Choice("units_1", [100, 200, 300, 500], default=300),
                    hp.Choice("units_2", [50, 100, 200], default=100),
                ),
                name="sparse_vd_mlp",
                **common,
            )
        elif self.family == "lenet5":
            model = models.lenet5_caffe(
                filters=(
                    hp.Choice("filters_1", [10, 20, 32], default=20),
                    hp.Choice("filters_2", [25, 50, 64], default=50),
                ),
                units=hp.Choice("units", [250, 500], default=500),
                name="sparse_vd_lenet5",
                **common,
            )
        else:
            model = models.vgg_like(
                width=hp.Choice("width", [0.125, 0.25, 0.5, 1.0], default=0.25),
                name="sparse_vd_vgg",
                **common,
            )
        if self.family in ("mlp", "lenet5"):
            # A Choice, not Float(0, 0.5, step=0.1): keras-tuner 1.4.8's
            # random draw of that Float never reaches 0.5.
            rate = hp.Choice(
                "dropout_rate", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5], default=0.0
            )
            if rate > 0:
                model = _with_dropout_before_logits(model, rate)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    def _declare_warmup(self, hp):
        return hp.Int("kl_warmup_epochs", 0, 10, default=2)

    # -- Training -----------------------------------------------------------

    def make_callbacks(self, hp, callbacks=None):
        """The callbacks of one trial: `callbacks` plus the missing ones.

        Returns a new list: a fresh `KLAnnealing` (the warm-up of
        `kl_warmup_epochs`), `SparsityMonitor` and `TradeoffScores`, each
        only when `callbacks` holds none of its class, inserted before the
        other callbacks (the `TradeoffScores` after both of the others,
        wherever they are), so that what follows sees their logs. With a
        `KLAnnealing` of your own, the warm-up whose scores are `FLOOR`
        is its schedule's `end` for a `LinearWarmup` by epoch, else the
        epochs where the logged `kl_weight` is 0.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            callbacks: the callbacks `fit` received (not modified).
        """
        callbacks = list(callbacks or [])
        warmup = self._declare_warmup(hp)

        def index_of(cls):
            found = [i for i, c in enumerate(callbacks) if isinstance(c, cls)]
            return found[-1] if found else None

        if index_of(KLAnnealing) is None:
            callbacks.insert(0, KLAnnealing(_kl_schedule(warmup)))
        else:
            warmup = _warmup_of(callbacks[index_of(KLAnnealing)].schedule)
        if index_of(SparsityMonitor) is None:
            callbacks.insert(
                index_of(KLAnnealing) + 1,
                SparsityMonitor(log_dir=_tensorboard_dir(callbacks)),
            )
        else:
            # The user's own monitor writes each trial into a run of its
            # own: a copy whose log_dir is a subfolder named after hp.
            i = index_of(SparsityMonitor)
            monitor = callbacks[i]
            if monitor.log_dir is not None:
                monitor = copy.deepcopy(monitor)
                monitor.log_dir = os.path.join(
                    monitor.log_dir, _run_name(hp)
                )
                callbacks[i] = monitor
        if index_of(TradeoffScores) is None:
            after = max(index_of(KLAnnealing), index_of(SparsityMonitor))
            callbacks.insert(
                after + 1,
                TradeoffScores(
                    weight=self.tradeoff_weight,
                    min_compression=self.min_compression,
                    max_compression=self.max_compression,
                    warmup_epochs=warmup,
                    chance_accuracy=1.0 / self.num_classes,
                ),
            )
        return callbacks

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        """Trains `model` with the callbacks of `make_callbacks`.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model `build(hp)` returned.
            *args: passed to `model.fit` (`x`, `y`, ...).
            callbacks: the callbacks of the trial (keras-tuner's copies of
                the search's, and its own).
            **kwargs: passed to `model.fit` (`validation_data`, `epochs`,
                `batch_size`, ...).

        Returns:
            The `History` of `model.fit`.
        """
        return model.fit(
            *args, callbacks=self.make_callbacks(hp, callbacks), **kwargs
        )


def _run_name(hp):
    """A folder name for one set of hyperparameter values (stable)."""
    values = json.dumps(hp.values, sort_keys=True, default=str)
    return "hp-" + hashlib.sha1(values.encode()).hexdigest()[:10]


def _check_input_shape(input_shape, family):
    if (
        not isinstance(input_shape, (list, tuple))
        or not input_shape
        or not all(is_integer(d) and d > 0 for d in input_shape)
    ):
        raise ValueError(
            "input_shape must be a non-empty tuple of positive integers. "
            f"Received: input_shape={input_shape!r}"
        )
    if family in _MIN_SIDE:
        if len(input_shape) != 3:
            raise ValueError(
                f"input_shape must have rank 3 (height, width, channels) "
                f"for family={family!r}. Received: input_shape={input_shape!r}"
            )
        side = _MIN_SIDE[family]
        if min(input_shape[:2]) < side:
            raise ValueError(
                f"input_shape must be at least {side}x{side} for "
                f"family={family!r}. Received: input_shape={input_shape!r}"
            )
    return tuple(int(d) for d in input_shape)


def _kl_schedule(warmup_epochs):
    if warmup_epochs == 0:
        return schedules.Constant(1.0)
    return schedules.LinearWarmup(0, warmup_epochs)


def _warmup_of(schedule):
    """The warm-up epochs of a user's schedule (0 when unknown)."""
    if schedule.by == "epoch" and isinstance(
        schedule, schedules.LinearWarmup
    ):
        return schedule.end if schedule.final >= schedule.initial else 0
    return 0


def _tensorboard_dir(callbacks):
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.TensorBoard):
            return callback.log_dir
    return None


def _with_dropout_before_logits(model, rate):
    """`model` (a Sequential) with `PermaDropout(rate)` before its logits."""
    *body, logits = model.layers
    return keras.Sequential(
        [
            keras.Input(model.inputs[0].shape[1:]),
            *body,
            PermaDropout(rate, name="perma_dropout"),
            logits,
        ],
        name=model.name,
    )


__all__ = ["SparseVDHyperModel"]
