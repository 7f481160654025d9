"""Tests of `keras_svd.tuner.pareto_front` and `plot_pareto_front` on
trials written to disk (searches: test_tuner_search.py)."""

import itertools
import sys

import keras_tuner
import pytest
from keras_tuner.engine.trial import Trial

from keras_svd.tuner import pareto_front
from keras_svd.tuner import plot_pareto_front

# (val_accuracy, compression) at the best step of each trial.
POINTS = [
    (0.98, 1.5),
    (0.97, 10.0),
    (0.96, 5.0),  # Dominated by (0.97, 10).
    (0.90, 40.0),
    (0.90, 20.0),  # Dominated by (0.90, 40).
    (0.50, 40.0),  # Dominated by (0.90, 40).
    (0.11, float("inf")),  # Every weight pruned: nothing compresses more.
]


def _write_search(directory, points, best_step=1):
    directory.mkdir(parents=True, exist_ok=True)
    for i, (accuracy, compression) in enumerate(points):
        hp = keras_tuner.HyperParameters()
        hp.Fixed("threshold", 3.0 + i)
        trial = Trial(hp, trial_id=f"{i:02d}")
        trial.best_step = best_step
        # An earlier epoch with other values: only the best step counts.
        for name, value in [
            ("val_accuracy", accuracy),
            ("compression", compression),
            ("kept_weights", 1000.0 / compression),
        ]:
            trial.metrics.register(name, "max")
            early = 0.0 if name == "val_accuracy" else 1.0
            trial.metrics.update(name, early, 0)
            trial.metrics.update(name, value, best_step)
        trial.score = accuracy
        (directory / f"trial_{trial.trial_id}").mkdir()
        trial.save(str(directory / f"trial_{trial.trial_id}" / "trial.json"))
    return directory


def _dominates(a, b):
    return (
        a["val_accuracy"] >= b["val_accuracy"]
        and a["compression"] >= b["compression"]
        and (a["val_accuracy"], a["compression"])
        != (b["val_accuracy"], b["compression"])
    )


def assert_front_is_exact(points):
    """Brute force: optimal points are dominated by none, others by one."""
    for a in points:
        dominated = any(_dominates(b, a) for b in points if b is not a)
        assert a["pareto_optimal"] == (not dominated), a


def test_front_holds_exactly_the_non_dominated_trials(tmp_path):
    points = pareto_front(_write_search(tmp_path / "project", POINTS))
    assert len(points) == len(POINTS)
    assert_front_is_exact(points)
    front = {p["trial_id"] for p in points if p["pareto_optimal"]}
    assert front == {"00", "01", "03", "06"}
    assert [p["val_accuracy"] for p in points] == sorted(
        (a for a, _ in POINTS), reverse=True
    )


def test_front_reads_values_at_the_best_step(tmp_path):
    points = pareto_front(_write_search(tmp_path / "project", POINTS[:2]))
    by_id = {p["trial_id"]: p for p in points}
    assert by_id["01"]["val_accuracy"] == 0.97
    assert by_id["01"]["compression"] == 10.0
    assert by_id["01"]["kept_weights"] == 100
    assert by_id["01"]["hyperparameters"] == {"threshold": 4.0}
    assert by_id["01"]["score"] == 0.97


def test_front_finds_the_one_project_of_a_directory(tmp_path):
    _write_search(tmp_path / "search" / "project", POINTS)
    assert pareto_front(tmp_path / "search") == pareto_front(
        tmp_path / "search" / "project"
    )


def test_front_of_random_points_matches_brute_force(tmp_path):
    values = [0.5, 0.7, 0.9]
    points = list(itertools.product(values, [1.0, 3.0, 9.0]))[::2]
    assert_front_is_exact(pareto_front(_write_search(tmp_path / "p", points)))


def test_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pareto_front(tmp_path / "nowhere")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        pareto_front(tmp_path / "file")


def test_empty_directory_raises(tmp_path):
    with pytest.raises(ValueError, match="no trial"):
        pareto_front(tmp_path)


def test_directory_of_several_searches_raises(tmp_path):
    _write_search(tmp_path / "a", POINTS[:1])
    _write_search(tmp_path / "b", POINTS[:1])
    with pytest.raises(ValueError, match="several searches"):
        pareto_front(tmp_path)


def test_trials_without_the_metrics_raise(tmp_path):
    trial = Trial(keras_tuner.HyperParameters(), trial_id="00")
    (tmp_path / "trial_00").mkdir()
    trial.save(str(tmp_path / "trial_00" / "trial.json"))
    with pytest.raises(ValueError, match="val_accuracy and compression"):
        pareto_front(tmp_path)


def test_wrong_argument_type_raises():
    with pytest.raises(ValueError, match="tuner_or_directory=3"):
        pareto_front(3)


def test_plot_without_matplotlib_raises_import_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="keras-svd\\[tuner\\]"):
        plot_pareto_front(_write_search(tmp_path / "p", POINTS))


def test_plot_saves_the_figure(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    path = tmp_path / "front.png"
    ax = plot_pareto_front(_write_search(tmp_path / "p", POINTS), path=path)
    assert path.stat().st_size > 0
    assert ax.get_xscale() == "log"


class _RecordingAxes:
    """Stands in for a matplotlib Axes: records what is drawn."""

    def __init__(self):
        self.calls = {}
        self.figure = self

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.setdefault(name, []).append((args, kwargs))

        return record


def test_plot_draws_the_front_in_order_of_compression(tmp_path, monkeypatch):
    ax = _RecordingAxes()
    fake_pyplot = type(sys)("matplotlib.pyplot")
    fake_pyplot.subplots = lambda **kwargs: (ax, ax)
    monkeypatch.setitem(sys.modules, "matplotlib", type(sys)("matplotlib"))
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", fake_pyplot)
    path = tmp_path / "front.png"
    search = _write_search(tmp_path / "p", POINTS)
    assert plot_pareto_front(search, path=path) is ax
    ((xs, ys), _), = ax.calls["step"]
    # The front without the infinite point, by increasing compression.
    assert xs == [1.5, 10.0, 40.0] and ys == [0.98, 0.97, 0.90]
    ((xs, _), _), = ax.calls["scatter"]
    assert sorted(xs) == [5.0, 20.0, 40.0]
    assert ax.calls["set_xscale"] == [(("log",), {})]
    assert ax.calls["savefig"][0][0] == (path,)
