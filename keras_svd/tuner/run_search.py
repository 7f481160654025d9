"""`run_search`: from arrays to a searched trade-off (`keras-svd tune`)."""

import json
import math
import os

import keras_tuner
import numpy as np

from keras_svd.tuner import objectives
from keras_svd.tuner.pareto_front import pareto_front
from keras_svd.tuner.sparse_vd_hyper_model import SparseVDHyperModel
from keras_svd.validation import check_path
from keras_svd.validation import check_positive_int

OBJECTIVES = {
    "tradeoff": objectives.TRADEOFF,
    "constrained_accuracy": objectives.CONSTRAINED_ACCURACY,
    "compression": objectives.COMPRESSION,
}
TUNERS = ("random", "hyperband", "bayesian")
FRONT_FILE = "pareto_front.json"


def run_search(
    x,
    y,
    validation_data,
    family="mlp",
    objective="tradeoff",
    tuner="random",
    max_trials=10,
    epochs=10,
    batch_size=100,
    directory="keras-svd-tune",
    project_name=None,
    tradeoff_weight=0.1,
    min_compression=10.0,
    max_compression=1000.0,
    hyperparameters=None,
    tune_new_entries=True,
    callbacks=None,
    overwrite=False,
    seed=None,
    verbose=1,
):
    """Searches a `SparseVDHyperModel` space on arrays and reads the front.

    Builds the hypermodel from the data (input shape, number of classes
    from the integer labels, N = `len(x)`), runs the chosen keras-tuner
    tuner, and writes the Pareto front (see `keras_svd.tuner.pareto_front`)
    to `directory/project_name/pareto_front.json` (`compression` null where
    every weight was pruned).

    Args:
        x: training inputs, an array of shape `(N, *input_shape)`.
        y: integer labels, shape `(N,)`.
        validation_data: `(x_val, y_val)`, what the scores are computed on.
        family: `"mlp"`, `"lenet5"` or `"vgg"`.
        objective: `"tradeoff"`, `"constrained_accuracy"`, `"compression"`
            (the `keras_svd.tuner` objectives) or a `keras_tuner.Objective`.
        tuner: `"random"` (RandomSearch, `max_trials`), `"hyperband"`
            (Hyperband with `max_epochs=epochs`; `max_trials` unused) or
            `"bayesian"` (BayesianOptimization, needs scikit-learn).
        max_trials: integer >= 1, the trials of a random or Bayesian search.
        epochs: integer >= 1, the epochs of each trial.
        batch_size: integer >= 1.
        directory: the folder of the search.
        project_name: its subfolder; `family` by default.
        tradeoff_weight, min_compression, max_compression: as for
            `SparseVDHyperModel`.
        hyperparameters: optional `keras_tuner.HyperParameters` fixing or
            narrowing the space.
        tune_new_entries: whether hyperparameters not in `hyperparameters`
            are tuned (else they take their defaults).
        callbacks: optional extra callbacks (copied for each trial).
        overwrite: start afresh instead of resuming a search in the folder.
        seed: optional integer seed of the tuner.
        verbose: passed to `tuner.search` (0, 1 or 2).

    Returns:
        A dict: `tuner` (the keras-tuner tuner, for `get_best_models`),
        `pareto_front` (the list of `pareto_front`), `best_hyperparameters`
        (a dict of the best trial's values) and `front_path` (the JSON
        file written).

    Raises:
        ValueError: for an unknown `family`, `objective` or `tuner`, labels
            that are not integers, `x` and `y` of different lengths, or
            `validation_data` that is not a pair of as many inputs as
            labels.
        TypeError: when `directory` is not a path.
        ImportError: for `tuner="bayesian"` without scikit-learn.

    Example:

    ```python
    result = keras_svd.tuner.run_search(
        x_train, y_train, (x_val, y_val), family="lenet5",
        objective="constrained_accuracy", min_compression=50,
        max_trials=20, epochs=30)
    result["tuner"].get_best_models(1)[0]
    ```
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            "x and y must hold the same number (> 0) of examples. "
            f"Received: len(x)={len(x)}, len(y)={len(y)}"
        )
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            "y must be a vector of integer class labels. "
            f"Received: y with shape {y.shape} and dtype {y.dtype}"
        )
    if (
        not isinstance(validation_data, (tuple, list))
        or len(validation_data) != 2
        or len(validation_data[0]) != len(validation_data[1])
        or len(validation_data[0]) == 0
    ):
        raise ValueError(
            "validation_data must be a pair (x_val, y_val) of the same "
            "number (> 0) of examples: the scores are computed on it. "
            f"Received: validation_data={validation_data!r:.200}"
        )
    directory = check_path(directory, "directory")
    if isinstance(objective, str):
        if objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {', '.join(map(repr, OBJECTIVES))} "
                f"or a keras_tuner.Objective. Received: objective={objective!r}"
            )
        objective = OBJECTIVES[objective]
    if tuner not in TUNERS:
        raise ValueError(
            f"tuner must be one of {', '.join(map(repr, TUNERS))}. "
            f"Received: tuner={tuner!r}"
        )
    max_trials = check_positive_int(max_trials, "max_trials")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    num_classes = max(int(y.max()) + 1, 2)
    hypermodel = SparseVDHyperModel(
        tuple(x.shape[1:]),
        num_classes,
        len(x),
        family=family,
        tradeoff_weight=tradeoff_weight,
        min_compression=min_compression,
        max_compression=max_compression,
    )
    project_name = family if project_name is None else project_name
    common = {
        "objective": objective,
        "hyperparameters": hyperparameters,
        "tune_new_entries": tune_new_entries,
        "directory": directory,
        "project_name": project_name,
        "overwrite": overwrite,
        "seed": seed,
    }
    if tuner == "random":
        search = keras_tuner.RandomSearch(
            hypermodel, max_trials=max_trials, **common
        )
    elif tuner == "hyperband":
        search = keras_tuner.Hyperband(hypermodel, max_epochs=epochs, **common)
    else:
        try:
            import sklearn  # noqa: F401
        except ImportError as e:
            raise ImportError(
                'tuner="bayesian" needs scikit-learn, which is not '
                'installed: pip install "keras-svd[tuner]".'
            ) from e
        search = keras_tuner.BayesianOptimization(
            hypermodel, max_trials=max_trials, **common
        )
    search.search(
        x,
        y,
        validation_data=validation_data,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=list(callbacks or []),
        verbose=verbose,
    )
    points = pareto_front(search)
    front_path = os.path.join(directory, project_name, FRONT_FILE)
    with open(front_path, "w") as f:
        json.dump(
            [_jsonable(point) for point in points], f, indent=2, default=float
        )
    (best,) = search.get_best_hyperparameters(1)
    return {
        "tuner": search,
        "pareto_front": points,
        "best_hyperparameters": dict(best.values),
        "front_path": front_path,
    }


def _jsonable(point):
    point = dict(point)
    if not math.isfinite(point["compression"]):
        point["compression"] = None
    return point


__all__ = ["run_search"]
