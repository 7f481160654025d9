"""Tests of `keras_svd.sparsity`: the one measurement and the paper's table."""

import keras
import numpy as np
import pytest

import keras_svd
from keras_svd.layers import VariationalConv2D
from keras_svd.layers import VariationalDense
from keras_svd.sparsity import measure_sparsity
from keras_svd.sparsity import sparsity_table


def _set_log_alpha(layer, log_alpha):
    """theta = 1, so log alpha = log sigma^2 (log(1 + 1e-8) is 0 in float32)."""
    layer.kernel.assign(np.ones(log_alpha.shape, "float32"))
    layer.log_sigma2.assign(log_alpha)


def _two_layer_model():
    """15 of 20 weights pruned in `a` (threshold 3), 9 of 10 in `b` (1)."""
    model = keras.Sequential(
        [
            keras.Input((4,)),
            VariationalDense(5, name="a"),
            VariationalDense(2, name="b", threshold=1.0),
        ]
    )
    a, b = model.layers
    a_log_alpha = np.full((4, 5), 3.0, "float32")  # at the threshold: pruned
    a_log_alpha.flat[:5] = -1.0
    b_log_alpha = np.full((5, 2), 1.0, "float32")
    b_log_alpha.flat[0] = 0.5
    _set_log_alpha(a, a_log_alpha)
    _set_log_alpha(b, b_log_alpha)
    return model


def test_measure_sparsity_counts_exactly():
    report = measure_sparsity(_two_layer_model())
    assert report == {
        "rows": [
            {"layer": "a", "weights": 20, "kept": 5, "sparsity": 0.75},
            {"layer": "b", "weights": 10, "kept": 1, "sparsity": 0.9},
        ],
        "weights": 30,
        "kept": 6,
        "sparsity": pytest.approx(0.8),
        "compression": 5.0,
    }
    assert all(isinstance(row["kept"], int) for row in report["rows"])


def test_set_weights_changes_the_next_measurement():
    model = _two_layer_model()
    a = model.get_layer("a")
    weights = a.get_weights()
    weights[1] = np.full((4, 5), -5.0, "float32")  # log sigma^2: all kept
    a.set_weights(weights)
    report = measure_sparsity(model)
    assert [row["kept"] for row in report["rows"]] == [20, 1]
    assert report["compression"] == 30 / 21


def test_sparsity_report_and_compression_ratio_read_the_measurement():
    model = _two_layer_model()
    assert keras_svd.sparsity_report(model) == measure_sparsity(model)["rows"]
    assert keras_svd.compression_ratio(model) == 30 / 6


def test_convolutions_nested_models_and_lists_of_layers_are_measured():
    inner = keras.Sequential(
        [keras.Input((8,)), VariationalDense(2, name="inner_dense")],
        name="inner",
    )
    inputs = keras.Input((5, 5, 1))
    x = VariationalConv2D(2, 3, name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, name="plain")(x)
    outputs = inner(x)
    model = keras.Model(inputs, outputs)
    conv = model.get_layer("conv")
    dense = inner.get_layer("inner_dense")
    conv_log_alpha = np.full((3, 3, 1, 2), -2.0, "float32")
    conv_log_alpha[0] = 4.0  # 6 of 18 pruned
    _set_log_alpha(conv, conv_log_alpha)
    _set_log_alpha(dense, np.full((8, 2), 5.0, "float32"))  # all pruned

    report = measure_sparsity(model)
    assert [(r["layer"], r["weights"], r["kept"]) for r in report["rows"]] == [
        ("conv", 18, 12),
        ("inner_dense", 16, 0),
    ]
    assert (report["weights"], report["kept"]) == (34, 12)

    only_conv = measure_sparsity([conv])
    assert only_conv["rows"] == report["rows"][:1]
    assert only_conv["compression"] == 18 / 12


def test_step_is_read_with_the_counts():
    step = keras.Variable(41, dtype="int64", trainable=False)
    report = measure_sparsity(_two_layer_model(), step=step)
    assert report["step"] == 41 and isinstance(report["step"], int)
    assert report["kept"] == 6
    assert "step" not in measure_sparsity(_two_layer_model())


def test_fully_pruned_model_has_infinite_compression():
    model = keras.Sequential(
        [keras.Input((2,)), VariationalDense(2, log_sigma2_init=20.0)]
    )
    report = measure_sparsity(model)
    assert (report["kept"], report["sparsity"]) == (0, 1.0)
    assert report["compression"] == float("inf")
    assert keras_svd.compression_ratio(model) == float("inf")
    assert sparsity_table(report).endswith("Compression |W| / |W != 0|: inf")


def test_table_has_the_layers_the_totals_and_the_compression():
    table = sparsity_table(measure_sparsity(_two_layer_model()))
    assert table == "\n".join(
        [
            "Layer  Weights  Kept  Sparsity %",
            "--------------------------------",
            "a           20     5       75.00",
            "b           10     1       90.00",
            "--------------------------------",
            "Total       30     6       80.00",
            "Compression |W| / |W != 0|: 5.0x",
        ]
    )


def test_table_title_thousands_and_extra_row_keys():
    report = {
        "rows": [
            {
                "layer": "dense_300",
                "weights": 235_200,
                "kept": 2_587,
                "sparsity": 1 - 2_587 / 235_200,
                "sparsity_percent": 100 * (1 - 2_587 / 235_200),
            },
            {"layer": "logits", "weights": 1_000, "kept": 380, "sparsity": 0.62},
        ],
        "weights": 236_200,
        "kept": 2_967,
        "sparsity": 1 - 2_967 / 236_200,
        "compression": 236_200 / 2_967,
    }
    lines = sparsity_table(report, title="LeNet").splitlines()
    assert lines[0] == "LeNet"
    assert lines[1].split() == ["Layer", "Weights", "Kept", "Sparsity", "%"]
    assert lines[3].split() == ["dense_300", "235,200", "2,587", "98.90"]
    assert lines[4].split() == ["logits", "1,000", "380", "62.00"]
    assert lines[6].split() == ["Total", "236,200", "2,967", "98.74"]
    assert lines[7] == "Compression |W| / |W != 0|: 79.6x"
    # Columns line up: every row is as wide as the header.
    assert len({len(line) for line in lines[1:7]}) == 1


def test_models_and_layers_without_variational_layers_are_rejected():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="no variational layer"):
        measure_sparsity(model)
    with pytest.raises(ValueError, match="no variational layer"):
        keras_svd.sparsity_report(model)
    with pytest.raises(ValueError, match="no variational layer"):
        measure_sparsity([])
    with pytest.raises(ValueError, match="Received: layer="):
        measure_sparsity(model.layers)


def test_an_unbuilt_model_is_a_clear_error():
    model = keras.Sequential([VariationalDense(3, name="head")], name="lazy")
    for measure in (
        measure_sparsity,
        keras_svd.sparsity_report,
        keras_svd.compression_ratio,
    ):
        with pytest.raises(ValueError, match="head are not built.*'lazy'"):
            measure(model)
