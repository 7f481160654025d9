"""`SparsityMonitor`: logs the sparsity of the variational layers."""

import copy
import numbers
import os
import warnings

import keras
import numpy as np
from keras import ops

from keras_svd.distribution import is_chief
from keras_svd.model_utils import run_id
from keras_svd.model_utils import variational_layers
from keras_svd.model_utils import warn_if_kl_inactive
from keras_svd.sparsity import measure_sparsity
from keras_svd.sparsity import sparsity_table
from keras_svd.validation import check_bool
from keras_svd.validation import check_verbose


class SparsityMonitor(keras.callbacks.Callback):
    """Writes the fraction of pruned weights into the logs of `fit`.

    Sparse Variational Dropout (Molchanov et al., ICML 2017) prunes a weight
    when its log alpha reaches the layer's `threshold` (3 by default). At the
    end of every epoch this callback counts, for every variational layer of
    the model (nested models included), the kernel weights that are pruned,
    and writes into the epoch logs:

    - `sparsity`: the fraction of all kernel weights that are pruned;
    - `compression`: all kernel weights / kept ones, the paper's
      `|W| / |W != 0|` (`inf` once every weight is pruned);
    - `sparsity/<layer name>`: the pruned fraction of each layer.

    History, CSVLogger, TensorBoard, the progress bar, EarlyStopping and
    ModelCheckpoint see these keys when they come after this callback in the
    `callbacks` list (pass `mode="max"` to monitor `sparsity` or
    `compression`). With `verbose=1` the callback prints at the end of
    training a table in the form of the paper's: per layer, the weights,
    the kept weights and the sparsity, and the model's compression.

    Cost: the counts are computed with `keras.ops` where the weights live
    (GPU included) from the layers' `pruning_mask()`, and each report makes
    one transfer to the host, a vector of one integer per layer. Nothing runs
    on the batches unless `update_freq` is an integer. The callback never
    reads `model.losses` and works with `jit_compile=True`.

    Args:
        verbose: 0 quiet; 1 prints the per-layer table at the end of
            training (in the chief process only).
        update_freq: `"epoch"` (default) reports once per epoch; an integer
            N also reports into the batch logs after every N batches of an
            epoch (the count restarts with each epoch).
        log_dir: optional folder for TensorBoard summaries of its own,
            written under `log_dir/sparsity` (the folder of
            `keras.callbacks.TensorBoard` can be shared): the scalars
            `epoch_sparsity`, `epoch_compression` and
            `epoch_sparsity/<layer name>` per epoch (`batch_...` at the
            optimizer step for an integer `update_freq`), and histograms
            `log_alpha/<layer name>`. Needs TensorFlow installed, as
            `keras.callbacks.TensorBoard` does, whatever the backend. In a
            multi-process job only the chief (process 0, see
            `keras_svd.distribution.is_chief`) writes them; every process
            measures.
        histogram_freq: with `log_dir`, the epochs between two histograms
            of log alpha (1: every epoch; 0: none). Each histogram epoch
            makes one more host transfer, of the log alphas.
        per_layer: whether to write the `sparsity/<layer name>` keys into
            the logs (the model-wide keys are always written).

    Attributes:
        last_report: the measurement of the last epoch of the current run,
            as `keras_svd.measure_sparsity` returns it: a dict with `rows`
            (per layer: `layer`, `weights`, `kept`, `sparsity`, as
            `keras_svd.sparsity_report`), `weights`, `kept`, `sparsity` and
            `compression`; None before the first epoch ends.

    Example:

    ```python
    keras_svd.set_num_train_examples(model, len(x_train))
    history = model.fit(
        x_train, y_train, epochs=20,
        callbacks=[
            keras_svd.callbacks.SparsityMonitor(verbose=1),
            keras.callbacks.EarlyStopping(
                "compression", mode="max", patience=3),
        ],
    )
    history.history["sparsity"]  # rises as log alpha grows
    ```
    """

    def __init__(
        self,
        verbose=0,
        update_freq="epoch",
        log_dir=None,
        histogram_freq=1,
        per_layer=True,
    ):
        super().__init__()
        check_verbose(verbose)
        if update_freq != "epoch" and (
            isinstance(update_freq, bool)
            or not isinstance(update_freq, numbers.Integral)
            or update_freq < 1
        ):
            raise ValueError(
                'update_freq must be "epoch" or a positive integer. '
                f"Received: update_freq={update_freq!r}"
            )
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise ValueError(
                "log_dir must be a path or None. "
                f"Received: log_dir={log_dir!r}"
            )
        if (
            isinstance(histogram_freq, bool)
            or not isinstance(histogram_freq, numbers.Integral)
            or histogram_freq < 0
        ):
            raise ValueError(
                "histogram_freq must be an integer >= 0. "
                f"Received: histogram_freq={histogram_freq!r}"
            )
        per_layer = check_bool(per_layer, "per_layer")
        self.verbose = verbose
        self.update_freq = update_freq
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.per_layer = per_layer
        # No per-batch hook to run: let Keras keep dispatching the batch
        # callbacks asynchronously (JAX, PyTorch).
        self.async_safe = update_freq == "epoch"
        self._reset_state()

    def _reset_state(self):
        self._layers = None
        self._keys = None
        self._writer = None
        self._batches_seen = 0
        self.last_report = None

    # -- Measuring ----------------------------------------------------------

    def _measure(self, with_step=False):
        """`keras_svd.measure_sparsity` of the monitored layers.

        With `with_step`, the report also holds `step`, the optimizer's
        iteration count, read in the same transfer.
        """
        # `self.model`, not `self._model`: on JAX the property syncs the
        # training state into the variables first.
        model = self.model
        step = model.optimizer.iterations if with_step else None
        return measure_sparsity(self._layers, step=step)

    def _write_logs(self, report, logs):
        if logs is None:
            return
        logs["sparsity"] = report["sparsity"]
        logs["compression"] = report["compression"]
        if self.per_layer:
            for key, row in zip(self._keys, report["rows"]):
                logs[key] = row["sparsity"]

    # -- Callback hooks -----------------------------------------------------

    def on_train_begin(self, logs=None):
        self._reset_state()
        layers = variational_layers(self.model)
        if not layers:
            raise ValueError(
                "SparsityMonitor needs a model with variational layers "
                "(VariationalDense, VariationalConv2D, ...). "
                f"Received: model={self.model.name!r}"
            )
        self._layers = layers
        self._keys = []
        for layer in layers:
            key = f"sparsity/{layer.name}"
            if key in self._keys:
                unique = f"{key}_{len(self._keys)}"
                warnings.warn(
                    f"Two variational layers are named {layer.name!r}; "
                    f"SparsityMonitor logs the second as {unique!r}.",
                    stacklevel=2,
                )
                key = unique
            self._keys.append(key)
        if self.log_dir is not None and is_chief():
            self._writer = _SummaryWriter(
                os.path.join(self.log_dir, "sparsity")
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._batches_seen = 0

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        # `batch` is the last step run; with `steps_per_execution` > 1 the
        # hook runs once per execution, so compare multiples, not residues.
        done = batch + 1
        due = done // self.update_freq > self._batches_seen // self.update_freq
        self._batches_seen = done
        if not due:
            return
        # Every process of a multi-process job makes the same measurements
        # (on JAX each is a computation they all take part in); the chief
        # alone has a writer.
        report = self._measure(with_step=self.log_dir is not None)
        self._write_logs(report, logs)
        if self._writer is not None:
            self._writer.scalars("batch_", report, self._keys, report["step"])

    def on_epoch_end(self, epoch, logs=None):
        report = self._measure()
        self.last_report = report
        self._write_logs(report, logs)
        if self.log_dir is None:
            return
        log_alphas = None
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            log_alphas = _log_alphas(self._layers)
        if self._writer is not None:
            self._writer.scalars("epoch_", report, self._keys, epoch)
            if log_alphas is not None:
                self._writer.histograms(self._layers, log_alphas, epoch)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.verbose > 0 and self._layers:
            report = self._measure()
            if is_chief():
                title = "SparsityMonitor: sparsity per layer"
                print("\n" + sparsity_table(report, title=title))
        if self._layers:
            warn_if_kl_inactive(self.model, run_id(self.model))

    def __deepcopy__(self, memo):
        # A copy is for another run (keras-tuner copies the callbacks of
        # each trial): share no model and no per-run state.
        cls = type(self)
        result = cls.__new__(cls)
        memo[id(self)] = result
        skipped = ("_model", "_layers", "_writer", "last_report")
        for key, value in self.__dict__.items():
            if key not in skipped:
                setattr(result, key, copy.deepcopy(value, memo))
        result._model = None
        result._reset_state()
        return result


class _SummaryWriter:
    """The TensorBoard summaries of `SparsityMonitor` (through tf.summary)."""

    def __init__(self, log_dir):
        try:
            import tensorflow as tf
        except ImportError as e:
            raise ImportError(
                "SparsityMonitor(log_dir=...) writes TensorBoard summaries "
                "with TensorFlow, which is not installed. Install "
                "`tensorflow` (any Keras backend works) or leave log_dir "
                "unset."
            ) from e
        self._tf = tf
        self._writer = tf.summary.create_file_writer(log_dir)

    def scalars(self, prefix, report, keys, step):
        tf = self._tf
        with self._writer.as_default(step=int(step)):
            tf.summary.scalar(f"{prefix}sparsity", report["sparsity"])
            compression = report["compression"]
            if np.isfinite(compression):
                tf.summary.scalar(f"{prefix}compression", compression)
            for key, row in zip(keys, report["rows"]):
                tf.summary.scalar(f"{prefix}{key}", row["sparsity"])

    def histograms(self, layers, parts, step):
        tf = self._tf
        with self._writer.as_default(step=int(step)):
            for layer, part in zip(layers, parts):
                tf.summary.histogram(f"log_alpha/{layer.name}", part)

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()


def _log_alphas(layers):
    """The log alphas of `layers`, one flat NumPy array each (one transfer)."""
    log_alphas = [ops.reshape(layer.log_alpha(), (-1,)) for layer in layers]
    sizes = [int(log_alpha.shape[0]) for log_alpha in log_alphas]
    values = ops.convert_to_numpy(ops.concatenate(log_alphas))
    return np.split(values, np.cumsum(sizes)[:-1])


__all__ = ["SparsityMonitor"]
