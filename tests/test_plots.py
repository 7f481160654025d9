"""Tests of `keras_svd.plots`: what each figure draws, headless (Agg)."""

import pathlib
import sys

import keras
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import keras_svd  # noqa: E402
import keras_svd_cli  # noqa: E402
from keras_svd import plots  # noqa: E402

HISTORY_CSV = (
    pathlib.Path(__file__).parent.parent
    / "benchmarks/results/lenet-300-100/history.csv"
)
# log sigma^2 of a kept weight (log alpha clipped to -8 for theta = 1) and
# of a pruned one (log alpha clipped to 8).
KEPT, PRUNED = -10.0, 10.0


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _set_mask(layer, pruned, theta=None):
    """Sets the layer's weights so that exactly `pruned` is pruned."""
    if theta is None:
        theta = np.random.default_rng(0).uniform(0.5, 2.0, pruned.shape)
        theta *= np.where(np.arange(theta.size) % 2, -1, 1).reshape(
            pruned.shape
        )
    layer.kernel.assign(theta.astype("float32"))
    layer.log_sigma2.assign(np.where(pruned, PRUNED, KEPT).astype("float32"))
    return theta


@pytest.fixture
def dense_model():
    """4x4 images -> Flatten -> 3 units (unit 1 dead) -> 2 logits."""
    model = keras.Sequential(
        [
            keras.Input((4, 4, 1)),
            keras.layers.Flatten(name="flatten"),
            keras_svd.VariationalDense(3, name="hidden"),
            keras_svd.VariationalDense(2, threshold=2.0, name="logits"),
        ],
        name="tiny_mlp",
    )
    pruned = np.random.default_rng(1).random((16, 3)) < 0.4
    pruned[:, 1] = True
    pruned[0, 0] = pruned[5, 2] = False  # Units 0 and 2 stay alive.
    _set_mask(model.get_layer("hidden"), pruned)
    logits_pruned = np.array([[True, False], [False, False], [True, True]])
    _set_mask(model.get_layer("logits"), logits_pruned)
    return model, pruned, logits_pruned


@pytest.fixture
def conv_model():
    """5x5x2 images -> a 3x3 conv of 4 filters (filter 2 dead)."""
    model = keras.Sequential(
        [
            keras.Input((5, 5, 2)),
            keras_svd.VariationalConv2D(4, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, name="logits"),
        ]
    )
    pruned = np.random.default_rng(2).random((3, 3, 2, 4)) < 0.5
    pruned[..., 2] = True
    pruned[0, 0, 0, [0, 1, 3]] = False
    _set_mask(model.get_layer("conv"), pruned)
    return model, pruned


def _panels(fig):
    return [ax for ax in fig.axes if ax.images]


def _blank(ax):
    return np.ma.getmaskarray(ax.images[0].get_array())


# -- plot_weight_masks ---------------------------------------------------------


def test_dense_masks_are_blank_exactly_where_pruned(dense_model, tmp_path):
    model, pruned, _ = dense_model
    path = tmp_path / "masks.png"
    fig = plots.plot_weight_masks(model, "hidden", path=path)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert path.stat().st_size > 0
    panels = _panels(fig)
    # The dead unit 1 gets no panel; the title counts it.
    assert [ax.get_title() for ax in panels] == ["unit 0", "unit 2"]
    assert "1 dead" in fig.get_suptitle()
    assert fig.get_supxlabel() and fig.get_supylabel()
    theta = model.get_layer("hidden").kernel.numpy()
    for ax, unit in zip(panels, (0, 2)):
        # The image is the unit's column laid out as the 4x4 input.
        np.testing.assert_array_equal(_blank(ax), pruned[:, unit].reshape(4, 4))
        data = np.ma.getdata(ax.images[0].get_array())
        kept = ~pruned[:, unit].reshape(4, 4)
        np.testing.assert_allclose(
            data[kept], theta[:, unit].reshape(4, 4)[kept], rtol=1e-6
        )
    # A colour bar of theta beside the panels, labelled.
    assert len(fig.axes) == len(panels) + 1
    assert "θ" in fig.axes[-1].get_ylabel()


def test_stripped_dense_layer_gives_the_same_masks(dense_model):
    model, pruned, _ = dense_model
    plain = keras_svd.strip_variational(model)
    fig = plots.plot_weight_masks(plain, "hidden")
    panels = _panels(fig)
    assert len(panels) == 2
    np.testing.assert_array_equal(_blank(panels[1]), pruned[:, 2].reshape(4, 4))


def test_conv_masks_one_panel_per_live_filter(conv_model):
    model, pruned = conv_model
    fig = plots.plot_weight_masks(model, channel=1)  # The first conv layer.
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == [
        "filter 0", "filter 1", "filter 3"
    ]
    assert "1 dead" in fig.get_suptitle()
    for ax, f in zip(panels, (0, 1, 3)):
        np.testing.assert_array_equal(_blank(ax), pruned[:, :, 1, f])
    # Averaged over the input channels: blank only where both are pruned.
    fig = plots.plot_weight_masks(model.get_layer("conv"))
    np.testing.assert_array_equal(
        _blank(_panels(fig)[0]), pruned[..., 0].all(axis=-1)
    )
    assert fig.get_supxlabel() and fig.get_supylabel()


def test_max_panels_and_explicit_image_shape(dense_model):
    model, pruned, _ = dense_model
    fig = plots.plot_weight_masks(
        model.get_layer("hidden"), image_shape=(2, 8), max_panels=1
    )
    (panel,) = _panels(fig)
    np.testing.assert_array_equal(_blank(panel), pruned[:, 0].reshape(2, 8))
    assert "first 1 shown" in fig.get_suptitle()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layer": "nope"}, "No layer named 'nope'.*Received: layer='nope'"),
        ({"layer": "flatten"}, "not a Dense or Conv2D.*Received: layer="),
        ({"layer": "logits"}, "Pass image_shape.*Received: image_shape=None"),
        (
            {"layer": "hidden", "image_shape": (3, 5)},
            "product is the 16 inputs.*Received: image_shape=\\(3, 5\\)",
        ),
        ({"max_panels": 0}, "Received: max_panels=0"),
        ({"layer": "hidden", "channel": 0}, "Received: channel=0"),
        ({"layer": 3}, "Received: layer=3"),
    ],
)
def test_weight_masks_bad_arguments(dense_model, kwargs, message):
    model, _, _ = dense_model
    with pytest.raises(ValueError, match=message):
        plots.plot_weight_masks(model, **kwargs)


# -- plot_log_alpha_histograms -------------------------------------------------


def test_log_alpha_histograms_show_threshold_and_pruned_fraction(dense_model):
    model, pruned, logits_pruned = dense_model
    fig = plots.plot_log_alpha_histograms(model, bins=20)
    assert len(fig.axes) == 2  # One panel per variational layer.
    for ax, threshold, mask in zip(
        fig.axes, (3.0, 2.0), (pruned, logits_pruned)
    ):
        vertical = [
            line for line in ax.lines
            if list(line.get_xdata()) == [threshold, threshold]
        ]
        assert len(vertical) == 1
        assert f"{100 * mask.mean():.1f}% at or above {threshold:g}" in (
            ax.get_title()
        )
        assert ax.get_xlabel() and ax.get_ylabel()
        assert len(ax.patches) == 20  # The bins.
        counts = sum(patch.get_height() for patch in ax.patches)
        assert counts == mask.size
    assert fig.get_suptitle()


def test_log_alpha_histograms_need_variational_layers(dense_model):
    plain = keras_svd.strip_variational(dense_model[0])
    with pytest.raises(ValueError, match="no variational layer"):
        plots.plot_log_alpha_histograms(plain)
    with pytest.raises(ValueError, match="Received: bins=0"):
        plots.plot_log_alpha_histograms(dense_model[0], bins=0)


# -- plot_training_history -----------------------------------------------------


def _lines(fig):
    return {
        line.get_label(): line for ax in fig.axes for line in ax.get_lines()
    }


def test_history_csv_of_the_package(tmp_path):
    fig = plots.plot_training_history(HISTORY_CSV, path=tmp_path / "h.png")
    epochs = len(HISTORY_CSV.read_text().splitlines()) - 1
    lines = _lines(fig)
    assert set(lines) == {"sparsity (model)", "KL weight β"}
    for line in lines.values():
        assert len(line.get_xdata()) == epochs
        assert line.get_xdata()[0] == 1  # Epochs counted from 1.
    ax, beta_ax = fig.axes  # Two y-axes.
    assert "%" in ax.get_ylabel() and "β" in beta_ax.get_ylabel()
    assert ax.get_xlabel() == "epoch" and ax.get_title()
    assert (tmp_path / "h.png").is_file()


def test_history_dict_with_per_layer_columns_and_gaps():
    history = {
        "sparsity": [0.1, 0.5, "NA"],
        "sparsity/hidden": [0.2, 0.6, 0.9],
        "kl_weight": [0.0, 0.5, 1.0],
        "loss": [3, 2, 1],
    }
    fig = plots.plot_training_history(history)
    lines = _lines(fig)
    assert set(lines) == {"sparsity (model)", "sparsity/hidden", "KL weight β"}
    np.testing.assert_allclose(
        lines["sparsity (model)"].get_ydata(), [10.0, 50.0, np.nan]
    )
    np.testing.assert_allclose(
        lines["sparsity/hidden"].get_ydata(), [20.0, 60.0, 90.0]
    )


def test_history_object_from_fit_and_given_axes():
    history = keras.callbacks.History()
    history.history = {"sparsity": [0.1, 0.2], "loss": [1.0, 0.5]}
    history.epoch = [0, 1]
    _, ax = plt.subplots()
    fig = plots.plot_training_history(history, ax=ax)
    assert fig is ax.figure and len(fig.axes) == 1  # No beta: one axis.
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2])


@pytest.mark.parametrize(
    "history, message",
    [
        ({"loss": [1.0, 0.5]}, "must hold a 'sparsity' column"),
        ({"sparsity": [0.1], "kl_weight": [0, 1]}, "one value per epoch"),
        ({"sparsity": [0.1, "high"]}, "not a number"),
        (42, "Received: history=42"),
    ],
)
def test_history_bad_arguments(history, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_training_history(history)


# -- plot_mc_spread ------------------------------------------------------------


def test_mc_spread_one_panel_per_input_with_every_sample():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras_svd.PermaDropout(0.5),
            keras.layers.Dense(3),
        ]
    )
    x = np.random.default_rng(3).normal(size=(2, 4)).astype("float32")
    fig = plots.plot_mc_spread(model, x, num_samples=8, class_names="abc")
    assert len(fig.axes) == 2
    for ax in fig.axes:
        dots = ax.collections[0].get_offsets()
        assert len(dots) == 8 * 3
        assert np.ptp(dots[:, 1]) > 0  # Dropout spreads the samples.
        assert ax.get_title().startswith(("input 0", "input 1"))
        assert ax.get_xlabel() == "class" and ax.get_ylabel()
        assert [t.get_text() for t in ax.get_xticklabels()] == list("abc")
    assert "8 stochastic passes" in fig.get_suptitle()


def test_mc_spread_from_a_prediction_and_bad_arguments():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x = np.zeros((3, 4), "float32")
    prediction = keras_svd.mc_predict(model, x, samples=2, return_samples=True)
    fig = plots.plot_mc_spread(prediction)
    assert len(fig.axes) == 3
    without = keras_svd.mc_predict(model, x, samples=2)
    with pytest.raises(ValueError, match="return_samples=True"):
        plots.plot_mc_spread(without)
    with pytest.raises(ValueError, match="Received: x=None"):
        plots.plot_mc_spread(model)
    with pytest.raises(ValueError, match="at most 25 inputs"):
        plots.plot_mc_spread(model, np.zeros((26, 4), "float32"))
    with pytest.raises(ValueError, match="Received: class_names="):
        plots.plot_mc_spread(prediction, class_names=["a"])


# -- plot_pareto_front ---------------------------------------------------------


def test_pareto_front_returns_the_figure_with_a_title():
    points = [
        {"trial_id": "0", "val_accuracy": 0.9, "compression": 10.0,
         "pareto_optimal": True},
        {"trial_id": "1", "val_accuracy": 0.8, "compression": 5.0,
         "pareto_optimal": False},
    ]
    fig = plots.plot_pareto_front(points)
    (ax,) = fig.axes
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


# -- Without matplotlib --------------------------------------------------------


def test_missing_matplotlib_names_the_extra(monkeypatch, dense_model):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'keras-svd\[notebooks\]'):
        plots.plot_log_alpha_histograms(dense_model[0])


# -- keras-svd report --plot ---------------------------------------------------


def test_report_plot_writes_masks_and_histograms(dense_model, tmp_path, capsys):
    model, _, _ = dense_model
    path = tmp_path / "model.keras"
    model.save(path)
    out = tmp_path / "figures"
    keras_svd_cli.main(["report", str(path), "--plot", str(out)])
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split()[0] == "Layer"  # The table.
    names = ["masks_hidden.png", "masks_logits.png", "log_alpha.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        assert str(out / name) in printed
    # A plain model: masks only (nothing has log alpha).
    plain = tmp_path / "plain.keras"
    keras_svd.strip_variational(model).save(plain)
    keras_svd_cli.main(["report", str(plain), "--plot", str(tmp_path / "p")])
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == names[:2]
