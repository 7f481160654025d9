"""`pareto_front`: the trials of a search that no other beats on both goals."""

import math
import os

from keras_tuner.engine.trial import Trial

from keras_svd.tuner.tradeoff_scores import KEPT_WEIGHTS_KEY

_TRIAL_FILE = "trial.json"


def pareto_front(tuner_or_directory):
    """Every trial's accuracy and compression, and which are Pareto-optimal.

    For each trial that logged `val_accuracy` and `compression` (those of
    `keras_svd.tuner.SparseVDHyperModel`), reads them, with `kept_weights`,
    at the trial's best step (the epoch that keras-tuner scored and
    checkpointed; the last epoch when that one lacks them). A trial is
    Pareto-optimal when no other trial has an accuracy and a compression
    both at least as high and one of them higher: the front is the set of
    best trade-offs, whatever the weight of either goal.

    Args:
        tuner_or_directory: a `keras_tuner.Tuner` (searched or reloaded) or
            the folder of a search: `directory/project_name`, holding one
            `trial_*/trial.json` per trial (or `directory` holding one
            project).

    Returns:
        A list of dicts, one per trial, sorted by decreasing `val_accuracy`
        then decreasing `compression`: `trial_id`, `val_accuracy`,
        `compression` (`inf` when every weight was pruned), `kept_weights`
        (None when not logged), `score` (keras-tuner's objective value),
        `hyperparameters` (a dict of values) and `pareto_optimal` (a bool).

    Raises:
        FileNotFoundError: for a missing folder.
        ValueError: for a file that is not a folder, or a search with no
            trial that logged both `val_accuracy` and `compression`.

    Example:

    ```python
    for point in keras_svd.tuner.pareto_front(tuner):
        if point["pareto_optimal"]:
            print(point["val_accuracy"], point["compression"],
                  point["hyperparameters"])
    ```
    """
    points = [
        point
        for point in map(_point, _trials(tuner_or_directory))
        if point is not None
    ]
    if not points:
        raise ValueError(
            "No trial logged both val_accuracy and compression (a search "
            "with SparseVDHyperModel and validation data logs them). "
            f"Received: tuner_or_directory={tuner_or_directory!r}"
        )
    for point in points:
        point["pareto_optimal"] = not any(
            _dominates(other, point) for other in points
        )
    points.sort(key=lambda p: (-p["val_accuracy"], -p["compression"]))
    return points


def _dominates(a, b):
    """True when `a` is at least as good as `b` on both goals, better on one."""
    return (
        a["val_accuracy"] >= b["val_accuracy"]
        and a["compression"] >= b["compression"]
        and (
            a["val_accuracy"] > b["val_accuracy"]
            or a["compression"] > b["compression"]
        )
    )


def _trials(tuner_or_directory):
    oracle = getattr(tuner_or_directory, "oracle", None)
    if oracle is not None:  # A keras_tuner tuner (BaseTuner) of any kind.
        return list(oracle.trials.values())
    if not isinstance(tuner_or_directory, (str, os.PathLike)):
        raise ValueError(
            "tuner_or_directory must be a keras_tuner.Tuner or the folder "
            f"of a search. Received: tuner_or_directory={tuner_or_directory!r}"
        )
    directory = os.fspath(tuner_or_directory)
    if not os.path.exists(directory):
        raise FileNotFoundError(
            "tuner_or_directory does not exist. "
            f"Received: tuner_or_directory={tuner_or_directory!r}"
        )
    if not os.path.isdir(directory):
        raise ValueError(
            "tuner_or_directory is not a folder. "
            f"Received: tuner_or_directory={tuner_or_directory!r}"
        )
    files = _trial_files(directory)
    if not files:
        # `directory` itself, with one project folder inside.
        projects = [
            os.path.join(directory, name)
            for name in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, name))
        ]
        found = [p for p in projects if _trial_files(p)]
        if len(found) == 1:
            files = _trial_files(found[0])
        elif len(found) > 1:
            raise ValueError(
                "tuner_or_directory holds several searches; pass one of "
                f"{found}. Received: tuner_or_directory={tuner_or_directory!r}"
            )
    if not files:
        raise ValueError(
            "tuner_or_directory holds no trial (trial_*/trial.json). "
            f"Received: tuner_or_directory={tuner_or_directory!r}"
        )
    return [Trial.load(path) for path in files]


def _trial_files(directory):
    files = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name, _TRIAL_FILE)
        if name.startswith("trial_") and os.path.isfile(path):
            files.append(path)
    return files


def _point(trial):
    metrics = trial.metrics
    if not (metrics.exists("val_accuracy") and metrics.exists("compression")):
        return None
    accuracy = _value_at(metrics, "val_accuracy", trial.best_step)
    compression = _value_at(metrics, "compression", trial.best_step)
    if accuracy is None or compression is None or math.isnan(accuracy):
        return None
    kept = None
    if metrics.exists(KEPT_WEIGHTS_KEY):
        kept = _value_at(metrics, KEPT_WEIGHTS_KEY, trial.best_step)
        kept = None if kept is None else int(kept)
    return {
        "trial_id": trial.trial_id,
        "val_accuracy": float(accuracy),
        "compression": float(compression),
        "kept_weights": kept,
        "score": trial.score,
        "hyperparameters": dict(trial.hyperparameters.values),
    }


def _value_at(metrics, name, step):
    history = metrics.get_history(name)
    if not history:
        return None
    chosen = [obs for obs in history if obs.step == step] or history[-1:]
    return float(chosen[0].mean())


__all__ = ["pareto_front"]
