"""`KLAnnealing`: applies a KL-weight schedule to a model during `fit`."""

import copy

import keras
from keras import ops

from keras_svd import schedules as schedules_lib
from keras_svd.distribution import is_chief
from keras_svd.model_utils import read_kl_log
from keras_svd.model_utils import run_id
from keras_svd.model_utils import set_kl_weight
from keras_svd.model_utils import variational_layers
from keras_svd.model_utils import warn_if_kl_inactive
from keras_svd.schedules.kl_schedule import validate_beta
from keras_svd.validation import check_verbose


class KLAnnealing(keras.callbacks.Callback):
    """Sets beta, the weight of the KL term, on every variational layer.

    Sparse Variational Dropout (Molchanov et al., ICML 2017) minimizes
    `mean NLL + beta * sum_layers(KL) / N` and anneals beta from 0 to 1.
    Before each epoch (a schedule `by="epoch"`) or each batch (`by="step"`)
    this callback computes beta from the schedule and assigns it to the
    non-trainable `kl_weight` variable of every variational layer of the
    model (nested models included), so the compiled train step sees the new
    value without retracing.

    Beta is a function of the `epoch` argument Keras passes, or of the
    optimizer's iteration count (`model.optimizer.iterations`, read before
    each batch), never of a counter kept by the callback: a run resumed with
    `keras.callbacks.BackupAndRestore` (or `initial_epoch`) continues the
    same trajectory. With `steps_per_execution=k` a `by="step"` schedule is
    applied once per `k` steps, at the first of them. A `by="step"` schedule
    reads the iteration count (one scalar) before every batch; on JAX that
    read also re-attaches the training state to the model, so prefer
    `by="epoch"` there when the steps are short.

    The beta of the epoch (for `by="step"`, of its last batch) is written
    into the epoch logs as `kl_weight`; the means over the epoch's steps of
    `sum_layers(KL) / N` as `kl` (the KL term before beta) and of
    `sum_layers(beta * KL / N)` as `kl_loss` (what the KL adds to `loss`;
    see `keras_svd.read_kl_log`). History, CSVLogger, TensorBoard and the
    progress bar see them on every backend; place monitoring callbacks
    after this one. When `fit` ends with beta still 0 or without N, it warns
    once that nothing was sparsified, and why.

    Args:
        schedule: a `keras_svd.schedules.KLSchedule`, a plain callable
            `epoch -> beta`, a number in [0, 1] or a serialized schedule
            (see `keras_svd.schedules.get`). Beta must be in [0, 1].
        verbose: 0 quiet, 1 prints beta whenever it changes at the start of
            an epoch (in the chief process only, see
            `keras_svd.distribution.is_chief`).

    Example:

    ```python
    keras_svd.set_num_train_examples(model, len(x_train))
    model.fit(
        x_train, y_train, epochs=30,
        callbacks=[keras_svd.callbacks.KLAnnealing(
            keras_svd.schedules.PaperWarmup())],
    )
    model.history.history["kl_weight"]  # [0.0, 0.0, ..., 0.0625, ...]
    ```
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        try:
            self.schedule = schedules_lib.get(schedule)
        except ValueError as e:
            raise ValueError(
                f"Invalid schedule: {e} Received: schedule={schedule!r}"
            ) from e
        check_verbose(verbose)
        self.verbose = verbose
        self._reset_state()

    def _reset_state(self):
        # The beta last assigned in this run, and the current epoch.
        self._beta = None
        self._epoch = None

    def on_train_begin(self, logs=None):
        self._reset_state()
        model = self.model
        if all(layer.built for layer in variational_layers(model)):
            # Passes made outside this run (eager calls) are not its `kl`.
            read_kl_log(model, reset=True)
        optimizer = getattr(model, "optimizer", None)
        if self.schedule.by == "step" and optimizer is None:
            raise ValueError(
                'A schedule with by="step" needs a compiled model with an '
                f"optimizer. Received: model={model.name!r}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        previous = self._beta
        if self.schedule.by == "epoch":
            self._apply(self.schedule(epoch))
        else:
            self._apply(self.schedule(epoch, self._optimizer_step()))
        if self.verbose > 0 and self._beta != previous and is_chief():
            print(
                f"\nEpoch {epoch + 1}: KLAnnealing setting kl_weight to "
                f"{self._beta:.6g}."
            )

    def on_train_batch_begin(self, batch, logs=None):
        if self.schedule.by != "step" or batch == 0:
            # Batch 0's beta was set in `on_epoch_begin`.
            return
        self._apply(self.schedule(self._epoch, self._optimizer_step()))

    def on_epoch_end(self, epoch, logs=None):
        # `self.model`: on JAX the property syncs the training state first.
        kl = read_kl_log(self.model, reset=True)
        if logs is None:
            return
        if self._beta is not None:
            logs["kl_weight"] = self._beta
        if kl is not None:
            logs.update(kl)

    def on_train_end(self, logs=None):
        warn_if_kl_inactive(self.model, run_id(self.model))

    def _optimizer_step(self):
        iterations = self.model.optimizer.iterations
        return int(ops.convert_to_numpy(iterations))

    def _apply(self, beta):
        beta = validate_beta(beta, "beta")
        if beta == self._beta:
            return
        # `self.model`, not `self._model`: on JAX the property syncs the
        # training state into the variables before they are assigned.
        set_kl_weight(self.model, beta)
        self._beta = beta

    def __deepcopy__(self, memo):
        # A copy is for another run (keras-tuner copies the callbacks of
        # each trial): share no model and no per-run state.
        cls = type(self)
        result = cls.__new__(cls)
        memo[id(self)] = result
        for key, value in self.__dict__.items():
            if key == "_model":
                value = None
            setattr(result, key, copy.deepcopy(value, memo))
        result._reset_state()
        return result


__all__ = ["KLAnnealing"]
