"""`mc_predict`: Monte-Carlo prediction with the model's stochastic layers on.

Gal & Ghahramani (2016) read a network whose dropout stays on at test time
as an approximate Bayesian posterior; Sparse Variational Dropout (Molchanov
et al., ICML 2017) gives one directly through its weight noise. Averaging T
stochastic passes estimates the predictive distribution, and its spread
measures the model's uncertainty (Gal, Islam & Ghahramani, 2017, for the
acquisition functions: predictive entropy, BALD, variation ratio).
"""

import dataclasses
import sys
import weakref
from typing import Optional

import keras
import numpy as np
from keras import ops

from keras_svd.sampling import sampling_mode
from keras_svd.validation import check_bool
from keras_svd.validation import check_positive_int

# Mutual information is H[mean] - E[H]: >= 0 exactly, but the two terms are
# computed in float32 and float64, so an exact zero can come out as -1e-7.
# Negative values down to -MI_TOLERANCE (nats) are set to 0; anything lower
# is left as it is, to show that something is wrong.
MI_TOLERANCE = 1e-4
# Rows of the first batch that `from_logits=None` looks at.
_PROBE_ROWS = 32
# Probabilities given with `from_logits=False` must sum to 1 within this.
_SUM_TOLERANCE = 1e-3
# Default number of rows (inputs times samples) of one compiled call.
_DEFAULT_ROWS_PER_CALL = 512


@dataclasses.dataclass(frozen=True, eq=False)
class MCPrediction:
    """The result of `keras_svd.mc_predict`: statistics over T samples.

    Entropies are in nats (natural logarithm), with 0 log 0 = 0. With p_t the
    class probabilities of sample t and p = mean_t p_t:

    Attributes:
        mean: float32 `(inputs, classes)`, p, the predictive distribution.
        std: float32 `(inputs, classes)`, the standard deviation of p_t over
            the samples (population, ddof=0).
        predictive_entropy: float32 `(inputs,)`, H[p] = -sum_c p_c log p_c,
            the total uncertainty, in [0, log(classes)].
        expected_entropy: float32 `(inputs,)`, mean_t H[p_t], the aleatoric
            part.
        mutual_information: float32 `(inputs,)`,
            H[p] - mean_t H[p_t] >= 0, the expected information gain about
            the weights ("BALD"), the epistemic part. It is 0 for a
            deterministic model.
        variation_ratio: float32 `(inputs,)`, 1 - f / T where f is the
            number of samples whose argmax is the modal class; in
            [0, 1 - 1/classes].
        predicted_class: int64 `(inputs,)`, argmax of `mean`.
        num_samples: T.
        samples: float32 `(T, inputs, classes)`, every p_t, or `None` unless
            `mc_predict(..., return_samples=True)`.

    Example:

    ```python
    result = keras_svd.mc_predict(model, x_test, samples=50)
    errors = result.predicted_class != y_test
    # Do the uncertain inputs hold the errors?
    order = np.argsort(-result.mutual_information)
    print(errors[order[:100]].mean(), errors.mean())
    ```
    """

    mean: np.ndarray
    std: np.ndarray
    predictive_entropy: np.ndarray
    expected_entropy: np.ndarray
    mutual_information: np.ndarray
    variation_ratio: np.ndarray
    predicted_class: np.ndarray
    num_samples: int
    samples: Optional[np.ndarray] = None


def _is_dataset(x):
    # A dataset exists only once TensorFlow is imported: no import here.
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(x, tf.data.Dataset)


def _to_numpy(value):
    if ops.is_tensor(value):
        return ops.convert_to_numpy(value)
    return np.asarray(value)


def _input_shapes(model):
    """The model's declared input shapes (a structure), or None."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    shapes = [tuple(t.shape) for t in inputs]
    return shapes[0] if len(shapes) == 1 else shapes


def _check_batch(x, expected):
    """Checks one batch (a structure of arrays) against the model's inputs."""
    leaves = keras.tree.flatten(x)
    shapes = [tuple(leaf.shape) for leaf in leaves]
    lengths = {shape[0] if shape else -1 for shape in shapes}
    if not leaves or -1 in lengths:
        raise ValueError(
            "x must be an array (or a list / dict of arrays) of rank >= 1 "
            "with one row per input. Received: x with shapes "
            f"{shapes}"
        )
    if len(lengths) > 1:
        raise ValueError(
            "All inputs in x must have the same number of rows. Received: "
            f"x with shapes {shapes}"
        )
    if lengths == {0}:
        raise ValueError(
            "x is empty: there is nothing to predict. Received: "
            f"x.shape={tuple(leaves[0].shape)}"
        )
    if expected is None or len(leaves) != 1 or isinstance(expected, list):
        return
    shape = tuple(leaves[0].shape)
    if len(shape) != len(expected) or any(
        want is not None and got != want
        for got, want in zip(shape[1:], expected[1:])
    ):
        raise ValueError(
            f"x must have the model's input shape {expected} (the first "
            f"axis is the batch). Received: x.shape={shape}"
        )


def _batches(x, batch_size, expected):
    """Yields NumPy batches (structures) of `x`, an array or a dataset."""
    if _is_dataset(x):
        if batch_size is not None:
            raise ValueError(
                "Do not give batch_size with a tf.data.Dataset: its own "
                f"batches are used. Received: batch_size={batch_size!r}"
            )
        empty = True
        for element in x:
            inputs, _, _ = keras.utils.unpack_x_y_sample_weight(element)
            inputs = keras.tree.map_structure(_to_numpy, inputs)
            _check_batch(inputs, expected)
            empty = False
            yield inputs
        if empty:
            raise ValueError(
                "The dataset x yielded no batch: there is nothing to "
                "predict. Received: x=<empty tf.data.Dataset>"
            )
        return
    x = keras.tree.map_structure(_to_numpy, x)
    _check_batch(x, expected)
    n = int(keras.tree.flatten(x)[0].shape[0])
    size = batch_size or 32
    for start in range(0, n, size):
        yield keras.tree.map_structure(lambda a: a[start : start + size], x)


class _SampleStatistics(keras.Model):
    """Runs a model `k` times on every input; one row of statistics each.

    The batch is tiled `k` times along its first axis (row `t * b + i` is
    sample t of input i), passed once through `model` with
    `training=False`, and the `k` class-probability vectors of each input
    are reduced to its row: the chunk's mean probabilities, the summed
    squared deviations from that mean, the summed entropies and the argmax
    votes per class (and, with `return_samples`, the `k` probability vectors
    themselves), packed side by side into one float32 row. As a Keras
    model, it runs under Keras's own predict functions (`predict_on_batch`,
    `predict`), which compile the step (`tf.function`, `jax.jit`, or eager
    under `torch.no_grad`); `unpack` names the columns of their rows.

    The model is held through a weak reference, so that the cache of these
    wrappers (keyed weakly by the model) does not keep it alive; its
    variables, random-seed states included, are tracked as this wrapper's
    own, so that the predict step on JAX threads them through its stateless
    call and writes the new seed states back (fresh samples on every call).

    Args:
        model: a built Keras model or layer mapping a batch to
            `(batch, classes)` logits or probabilities.
        samples_per_call: k, the number of passes per input and call.
        from_logits: whether `model` outputs logits or probabilities.
        return_samples: also output every probability vector (`"samples"`
            of shape `(batch, k, classes)` once unpacked).

    Example:

    ```python
    wrapper = _SampleStatistics(model, 10, True, False)
    stats = wrapper.unpack(wrapper.predict(x, batch_size=32, verbose=0))
    stats["mean"].shape  # (len(x), classes)
    ```
    """

    def __init__(self, model, samples_per_call, from_logits, return_samples):
        # float32 and no autocast: the inputs reach `model` as given, and
        # `model` applies its own dtype policy.
        super().__init__(
            name=f"mc_sample_statistics_{samples_per_call}",
            dtype="float32",
            autocast=False,
        )
        self._model_ref = weakref.ref(model)
        self._model_variables = list(model.variables)
        self._samples_per_call = samples_per_call
        self._from_logits = from_logits
        self._return_samples = return_samples
        self._output_checked = False
        if isinstance(model, keras.Model):
            # What `model.predict` would use (XLA or not).
            self.jit_compile = model.jit_compile
        self.built = True

    def call(self, inputs):
        k = self._samples_per_call

        def tile(t):
            t = ops.convert_to_tensor(t)
            return ops.tile(t, [k] + [1] * (len(t.shape) - 1))

        inputs = keras.tree.map_structure(tile, inputs)
        outputs = self._model_ref()(inputs, training=False)
        _check_model_output(outputs)
        outputs = ops.cast(outputs, "float32")
        num_classes = outputs.shape[-1]
        outputs = ops.reshape(outputs, (k, -1, num_classes))
        if self._from_logits:
            log_probs = ops.log_softmax(outputs, axis=-1)
            probs = ops.exp(log_probs)
        else:
            probs = outputs
            # 0 log 0 = 0; a NaN stays NaN (NaN > 0 is False, NaN * 0 is
            # NaN).
            log_probs = ops.log(
                ops.where(probs > 0, probs, ops.ones_like(probs))
            )
        entropy = -ops.sum(probs * log_probs, axis=-1)
        chunk_mean = ops.mean(probs, axis=0)
        columns = [
            chunk_mean,
            ops.sum(ops.square(probs - chunk_mean[None]), axis=0),
            ops.sum(
                ops.one_hot(ops.argmax(probs, axis=-1), num_classes), axis=0
            ),
            ops.sum(entropy, axis=0)[:, None],
        ]
        if self._return_samples:
            samples = ops.transpose(probs, (1, 0, 2))
            columns.append(ops.reshape(samples, (-1, k * num_classes)))
        # One output, not a dict of five: every output of a step is
        # converted to NumPy on its own (and `predict` on TensorFlow
        # concatenates each output with several eager ops per batch).
        return ops.concatenate(columns, axis=-1)

    def unpack(self, rows):
        """Splits rows of this model's output into the named statistics.

        Args:
            rows: the output of `predict` (or `predict_on_batch`), of shape
                `(inputs, 3 * classes + 1)`, plus `k * classes` columns with
                `return_samples`.

        Returns:
            A dict of float32 NumPy arrays: `"mean"`, `"m2"` and `"votes"`
            of shape `(inputs, classes)`, `"entropy_sum"` of shape
            `(inputs,)`, and with `return_samples` `"samples"` of shape
            `(inputs, k, classes)`.
        """
        rows = np.asarray(rows, np.float32)
        k = self._samples_per_call
        width = 3 + (k if self._return_samples else 0)
        c = (rows.shape[-1] - 1) // width
        stats = {
            "mean": rows[:, :c],
            "m2": rows[:, c : 2 * c],
            "votes": rows[:, 2 * c : 3 * c],
            "entropy_sum": rows[:, 3 * c],
        }
        if self._return_samples:
            stats["samples"] = rows[:, 3 * c + 1 :].reshape(-1, k, c)
        return stats

    def check_output(self, batch):
        """Checks the model's output on `batch`'s shapes, once.

        The check runs symbolically (`compute_output_spec`), so a model
        with the wrong output is reported in `mc_predict`'s own words
        rather than from inside a compiled step.

        Args:
            batch: one batch of inputs (a structure of arrays).
        """
        if self._output_checked:
            return
        spec = keras.tree.map_structure(
            lambda a: keras.KerasTensor(
                (None,) + tuple(a.shape[1:]), dtype=str(a.dtype)
            ),
            batch,
        )
        _check_model_output(self._model_ref().compute_output_spec(spec))
        self._output_checked = True


def _check_model_output(outputs):
    """Raises unless `outputs` is one `(batch, classes >= 2)` tensor."""
    single = ops.is_tensor(outputs) or isinstance(outputs, keras.KerasTensor)
    if (
        not single
        or len(outputs.shape) != 2
        or outputs.shape[-1] is None
        or outputs.shape[-1] < 2
    ):
        shape = tuple(outputs.shape) if single else outputs
        raise ValueError(
            "mc_predict needs a model with one output of shape "
            "(batch, classes), classes >= 2 (logits or probabilities). "
            f"Received: model output={shape!r}"
        )


# model -> {(backend, from_logits, return_samples, k, number of
# variables): _SampleStatistics}, so that repeated calls reuse one trace, as
# `model.predict` does. The wrappers hold the model weakly (their variables
# are the model's), so an entry goes when its model does.
_CACHE = weakref.WeakKeyDictionary()


def _get_wrapper(model, k, from_logits, return_samples):
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax", "torch"):
        raise ValueError(
            "mc_predict supports the tensorflow, jax and torch backends. "
            f"Received: backend={backend!r}"
        )
    key = (backend, from_logits, return_samples, k, len(model.variables))
    wrappers = _CACHE.setdefault(model, {})
    if key not in wrappers:
        wrappers[key] = _SampleStatistics(
            model, k, from_logits, return_samples
        )
    return wrappers[key]


def _entropy(probs):
    """-sum p log p over the last axis, with 0 log 0 = 0 (float64)."""
    safe = np.where(probs > 0, probs, 1.0)
    return -np.sum(probs * np.log(safe), axis=-1)


class _Accumulator:
    """Combines chunks of samples of the same inputs, in float64.

    The means and summed squared deviations of the chunks are merged with
    Chan et al.'s parallel variance.
    """

    def __init__(self):
        self.count = 0
        self.mean = self.m2 = None
        self.entropy_sum = self.votes = 0.0
        self.samples = []

    def add(self, stats, k):
        mean = np.asarray(stats["mean"], np.float64)
        m2 = np.asarray(stats["m2"], np.float64)
        if self.count == 0:
            self.mean, self.m2 = mean, m2
        else:
            total = self.count + k
            delta = mean - self.mean
            self.mean = self.mean + delta * (k / total)
            self.m2 = self.m2 + m2 + np.square(delta) * (self.count * k / total)
        self.count += k
        self.entropy_sum = self.entropy_sum + np.asarray(
            stats["entropy_sum"], np.float64
        )
        self.votes = self.votes + np.asarray(stats["votes"], np.float64)
        if "samples" in stats:
            # (inputs, k, classes) -> (k, inputs, classes).
            self.samples.append(
                np.swapaxes(np.asarray(stats["samples"], np.float32), 0, 1)
            )


def _outputs_probabilities(model, batch):
    """Why `model` outputs probabilities, or None when it outputs logits.

    A last layer that applies softmax says so; otherwise the outputs of the
    first rows of `batch` are probabilities when every row is non-negative
    and sums to 1 (within 1e-3), which logits practically never are.
    """
    layers = getattr(model, "layers", None) or [model]
    last = layers[-1]
    if isinstance(last, keras.layers.Softmax) or getattr(
        last, "activation", None
    ) in (keras.activations.softmax, "softmax"):
        return f"its last layer {last.name!r} applies softmax"
    rows = keras.tree.map_structure(lambda a: a[:_PROBE_ROWS], batch)
    outputs = model(rows, training=False)
    if not ops.is_tensor(outputs) or len(outputs.shape) != 2:
        return None  # `check_output` says what is wrong with it.
    outputs = _to_numpy(outputs).astype(np.float64)
    sums = outputs.sum(axis=-1)
    if np.all(outputs >= 0) and np.all(np.abs(sums - 1.0) <= _SUM_TOLERANCE):
        return "its outputs are non-negative and every row sums to 1"
    return None


def _resolve_from_logits(model, batch, from_logits):
    """`from_logits` for `model`: detected when None, checked when True."""
    if from_logits is False:
        return False
    reason = _outputs_probabilities(model, batch)
    if from_logits is None:
        return reason is None
    if reason is not None:
        raise ValueError(
            f"The model outputs probabilities ({reason}), but "
            "from_logits=True would apply a second softmax, which flattens "
            "every distribution towards uniform (the predictive entropy "
            "comes out near log(classes)). Pass from_logits=False, or leave "
            "from_logits=None to detect it. Received: from_logits=True"
        )
    return True


def _check_probabilities(mean, from_logits):
    if from_logits:
        return
    sums = np.sum(mean, axis=-1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > _SUM_TOLERANCE or np.min(mean) < 0:
        raise ValueError(
            "With from_logits=False the model must output probabilities "
            "(non-negative, each row summing to 1), but the mean output of "
            f"one input sums to {sums[worst]:.4g} (smallest value "
            f"{np.min(mean):.4g}). Pass from_logits=True for a model that "
            f"outputs logits. Received: from_logits={from_logits!r}"
        )


def _chunk_sizes(samples, chunk_size):
    """Splits T into as few chunks of at most `chunk_size` as possible, as
    even as possible (two distinct sizes at most, so two traces at most)."""
    count = -(-samples // chunk_size)
    size, rest = divmod(samples, count)
    return [size + 1] * rest + [size] * (count - rest)


def mc_predict(
    model,
    x,
    samples=50,
    batch_size=None,
    chunk_size=None,
    from_logits=None,
    sample_weights=True,
    return_samples=False,
):
    """Predicts with the model's stochastic layers on, `samples` times.

    Each input goes through the model `samples` (T) times, and the class
    probabilities are reduced to the statistics of `MCPrediction`: the mean
    (the Monte-Carlo estimate of the predictive distribution), its standard
    deviation, the predictive entropy, the expected entropy, the mutual
    information ("BALD", Houlsby et al., 2011), the variation ratio and the
    predicted class. Entropies use the natural logarithm (nats).

    What is stochastic: `keras_svd.layers.PermaDropout` always; the
    variational layers (`VariationalDense`, `VariationalConv2D`) when
    `sample_weights=True`, through their `sample_at_inference` variable (see
    `keras_svd.sampling_mode`), restored afterwards. The model runs with
    `training=False`, so `BatchNormalization` uses and keeps its moving
    statistics and plain `Dropout` is off.

    How: a small wrapper model (cached per model) tiles a batch of inputs
    `k` times along the batch axis, runs `model` once on it and reduces the
    k samples of each input to one row of statistics; Keras compiles it as
    it compiles `model.predict` (`tf.function` on TensorFlow, `jax.jit` on
    JAX, eager under `torch.no_grad` on PyTorch) and runs it batch by batch
    (`predict_on_batch`). The T samples are taken in chunks of
    k <= `chunk_size`, combined in float64 on the host, so memory is bounded
    by one tiled batch of `batch_size * chunk_size` rows whatever T (unless
    `return_samples`). Every batch goes through all its chunks before the
    next is read, so a dataset is read once. Repeated calls on one model
    reuse the compiled functions.

    Args:
        model: a built Keras model (or layer) mapping a batch to
            `(batch, classes)` logits or probabilities, classes >= 2.
        x: the inputs: a NumPy array or tensor (a list / dict of them for a
            multi-input model) with the batch first, or a batched
            `tf.data.Dataset` yielding inputs or `(inputs, targets, ...)`
            tuples (targets ignored).
        samples: positive integer T, the number of stochastic passes.
        batch_size: inputs per compiled call (default 32); not allowed with
            a dataset, whose own batches are used.
        chunk_size: the most samples per compiled call, in [1, T]; the T
            samples are split into as few chunks as that allows, of nearly
            equal sizes. Larger is faster until memory runs short. Default:
            T, capped so that one call holds at most 512 rows (at least one
            sample).
        from_logits: whether the model outputs logits (softmax applied
            here) or probabilities. `None` (the default) detects it: a last
            layer that applies softmax, or outputs of the first batch that
            are non-negative and sum to 1 in every row, are probabilities;
            anything else is logits. `True` on a model that outputs
            probabilities raises a `ValueError` (a second softmax would
            flatten every prediction towards uniform).
        sample_weights: also sample the variational layers' weights
            (local reparameterization); with `False` they use their pruned
            mean weights and only layers such as `PermaDropout` are random.
        return_samples: also return every sample's probabilities as
            `MCPrediction.samples`, of shape `(samples, inputs, classes)`.

    Returns:
        An `MCPrediction`.

    Raises:
        ValueError: for a bad argument, an empty input, an input whose shape
            is not the model's, or (with `from_logits=False`) outputs that
            are not probabilities.

    Example:

    ```python
    model = keras_svd.models.mc_dropout_cnn()
    ...  # compile and fit
    result = keras_svd.mc_predict(model, x_test, samples=50)
    accuracy = np.mean(result.predicted_class == y_test)
    most_uncertain = np.argsort(-result.mutual_information)[:10]
    ```
    """
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(
            "model must be a Keras model or layer. "
            f"Received: model={model!r:.100}"
        )
    samples = check_positive_int(samples, "samples")
    batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
    chunk_size = check_positive_int(chunk_size, "chunk_size", allow_none=True)
    if from_logits is not None:
        from_logits = check_bool(from_logits, "from_logits")
    sample_weights = check_bool(sample_weights, "sample_weights")
    return_samples = check_bool(return_samples, "return_samples")
    if chunk_size is not None and chunk_size > samples:
        raise ValueError(
            f"chunk_size must be at most samples ({samples}). "
            f"Received: chunk_size={chunk_size}"
        )
    if chunk_size is None:
        rows = batch_size or 32
        chunk_size = min(samples, max(1, _DEFAULT_ROWS_PER_CALL // rows))
    chunks = _chunk_sizes(samples, chunk_size)
    expected = _input_shapes(model)
    wrappers = None

    parts = []
    with sampling_mode(model, enabled=sample_weights):
        for batch in _batches(x, batch_size, expected):
            if wrappers is None:
                from_logits = _resolve_from_logits(model, batch, from_logits)
                wrappers = {
                    k: _get_wrapper(model, k, from_logits, return_samples)
                    for k in sorted(set(chunks))
                }
            accumulator = _Accumulator()
            for k in chunks:
                wrapper = wrappers[k]
                wrapper.check_output(batch)
                rows = wrapper.predict_on_batch(batch)
                accumulator.add(wrapper.unpack(rows), k)
            _check_probabilities(accumulator.mean, from_logits)
            parts.append(accumulator)
    return _finalize(parts, samples, return_samples)


def _finalize(parts, samples, return_samples):
    mean = np.concatenate([p.mean for p in parts])
    m2 = np.concatenate([p.m2 for p in parts])
    expected_entropy = np.concatenate([p.entropy_sum for p in parts]) / samples
    votes = np.concatenate([p.votes for p in parts])
    predictive_entropy = _entropy(mean)
    mutual_information = predictive_entropy - expected_entropy
    rounding = (mutual_information < 0) & (mutual_information >= -MI_TOLERANCE)
    mutual_information = np.where(rounding, 0.0, mutual_information)
    all_samples = None
    if return_samples:
        all_samples = np.concatenate(
            [np.concatenate(p.samples, axis=0) for p in parts], axis=1
        )
    return MCPrediction(
        mean=mean.astype(np.float32),
        std=np.sqrt(m2 / samples).astype(np.float32),
        predictive_entropy=predictive_entropy.astype(np.float32),
        expected_entropy=expected_entropy.astype(np.float32),
        mutual_information=mutual_information.astype(np.float32),
        variation_ratio=(1.0 - np.max(votes, axis=-1) / samples).astype(
            np.float32
        ),
        predicted_class=np.argmax(mean, axis=-1).astype(np.int64),
        num_samples=samples,
        samples=all_samples,
    )


__all__ = ["MCPrediction", "mc_predict"]
