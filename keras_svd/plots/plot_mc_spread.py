"""`plot_mc_spread`: the spread of Monte-Carlo class probabilities."""

import keras
import numpy as np

from keras_svd.mc_predict import MCPrediction
from keras_svd.mc_predict import mc_predict
from keras_svd.plots.figure_utils import check_figure
from keras_svd.plots.figure_utils import check_path
from keras_svd.plots.figure_utils import import_pyplot
from keras_svd.plots.figure_utils import panel_grid
from keras_svd.plots.figure_utils import save

# One panel per input: a figure for a few inputs, not a data set.
MAX_INPUTS = 25


def plot_mc_spread(
    model_or_prediction,
    x=None,
    num_samples=50,
    class_names=None,
    from_logits=None,
    sample_weights=True,
    fig=None,
    path=None,
):
    """Plots the class probabilities of T stochastic passes, per input.

    One panel per input: for every class, the probabilities of the T
    Monte-Carlo samples as a strip of dots (jittered sideways) and their
    mean (the predictive distribution) as a red bar. A wide strip is an
    uncertain model; the panel title gives the predicted class and the
    mutual information ("BALD", the epistemic part of the uncertainty, in
    nats). The samples come from `keras_svd.mc_predict(...,
    return_samples=True)`: `PermaDropout` always samples, and the
    variational layers sample their weights with `sample_weights=True`.

    Args:
        model_or_prediction: a built Keras model mapping a batch to
            `(batch, classes)` logits or probabilities, or an
            `MCPrediction` that holds its samples (from
            `mc_predict(..., return_samples=True)`).
        x: with a model, the inputs, a few (at most 25) with the batch
            first; must be None with a prediction.
        num_samples: T, the number of stochastic passes (with a model).
        class_names: optional names of the classes, for the x-axis.
        from_logits: with a model, as `mc_predict`'s `from_logits`.
        sample_weights: with a model, as `mc_predict`'s `sample_weights`.
        fig: optional empty matplotlib `Figure` to draw on; a new figure
            otherwise.
        path: optional file to save the figure to (PNG, PDF, SVG, ...).

    Returns:
        The matplotlib `Figure`, one panel per input: its first collection
        holds the `T * classes` dots of the samples.

    Raises:
        ImportError: when matplotlib is not installed.
        ValueError: for a prediction without samples, `x` missing (with a
            model) or given (with a prediction), more than 25 inputs,
            `class_names` of the wrong length, or as `mc_predict`.

    Example:

    ```python
    model = keras_svd.models.mc_dropout_cnn()
    ...  # train
    keras_svd.plots.plot_mc_spread(model, x_test[:6], num_samples=100,
                                   path="spread.png")
    ```
    """
    plt = import_pyplot("plot_mc_spread")
    check_figure(fig, plt)
    check_path(path)
    prediction = _prediction(
        model_or_prediction, x, num_samples, from_logits, sample_weights
    )
    samples = np.asarray(prediction.samples)  # (T, inputs, classes)
    num_samples, count, num_classes = samples.shape
    if count > MAX_INPUTS:
        _too_many(count)
    if class_names is None:
        class_names = [str(c) for c in range(num_classes)]
    elif len(class_names) != num_classes:
        raise ValueError(
            f"class_names must name the {num_classes} classes. "
            f"Received: class_names={class_names!r}"
        )

    fig, axes = panel_grid(plt, fig, count, (3.2, 2.4), max_columns=5)
    classes = np.arange(num_classes)
    rng = np.random.default_rng(0)  # The same jitter on every call.
    for index, ax in enumerate(axes):
        probs = samples[:, index, :]
        jitter = rng.uniform(-0.22, 0.22, size=probs.shape)
        ax.scatter(
            (classes[None, :] + jitter).ravel(),
            probs.ravel(),
            s=5,
            alpha=0.35,
            color="tab:blue",
            label=f"{num_samples} samples",
        )
        ax.scatter(
            classes,
            prediction.mean[index],
            marker="_",
            s=200,
            linewidths=2,
            color="tab:red",
            label="mean",
        )
        ax.set_xticks(classes, class_names, fontsize=7)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("class")
        ax.set_ylabel("probability")
        predicted = class_names[int(prediction.predicted_class[index])]
        ax.set_title(
            f"input {index}: predicted {predicted}, "
            f"MI {prediction.mutual_information[index]:.3f} nats",
            fontsize=8,
        )
    axes[0].legend(fontsize="x-small", loc="upper right")
    fig.suptitle(
        f"Monte-Carlo class probabilities ({num_samples} stochastic passes: "
        "blue dots; their mean: red bars)"
    )
    return save(fig, path)


def _too_many(count):
    raise ValueError(
        f"plot_mc_spread draws one panel per input: give at most "
        f"{MAX_INPUTS} inputs. Received: x with {count} rows"
    )


def _prediction(model_or_prediction, x, num_samples, from_logits,
                sample_weights):
    """An `MCPrediction` with samples: the one given, or `mc_predict`'s."""
    if isinstance(model_or_prediction, MCPrediction):
        if x is not None:
            raise ValueError(
                "x is for a model: an MCPrediction already holds its "
                f"samples. Received: x with type {type(x).__name__}"
            )
        if model_or_prediction.samples is None:
            raise ValueError(
                "The MCPrediction holds no samples: make it with "
                "keras_svd.mc_predict(..., return_samples=True), or pass "
                "the model. Received: model_or_prediction.samples=None"
            )
        return model_or_prediction
    if x is None:
        raise ValueError(
            "x, the inputs to predict, is needed with a model. "
            "Received: x=None"
        )
    leaves = keras.tree.flatten(x)
    rows = getattr(leaves[0], "shape", (0,)) if leaves else (0,)
    if len(rows) and rows[0] is not None and rows[0] > MAX_INPUTS:
        _too_many(rows[0])
    return mc_predict(
        model_or_prediction,
        x,
        samples=num_samples,
        from_logits=from_logits,
        sample_weights=sample_weights,
        return_samples=True,
    )


__all__ = ["plot_mc_spread"]
