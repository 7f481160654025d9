import warnings

import keras
import numpy as np
import pytest

import keras_svd


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _sparsify(model, keep=0.3, seed=0):
    """Zeros most kernel weights and all weights of some units, in place."""
    rng = np.random.default_rng(seed)
    for layer in _all_layers(model):
        if not isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            continue
        kernel = keras.ops.convert_to_numpy(layer.kernel).copy()
        kernel *= rng.random(kernel.shape) < keep
        units = kernel.shape[-1]
        kernel[..., rng.random(units) < 0.25] = 0.0  # dead incoming
        inputs = kernel.shape[-2]
        kernel[..., rng.random(inputs) < 0.25, :] = 0.0  # unread inputs
        layer.kernel.assign(kernel)
        if layer.use_bias:
            bias = rng.normal(0.0, 0.5, units).astype("float32")
            layer.bias.assign(bias)


def _predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def _assert_same(model, small, x):
    np.testing.assert_allclose(
        _predict(small, x), _predict(model, x), rtol=1e-5, atol=1e-5
    )


def _dense_chain():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(40, activation="relu", name="d1"),
            keras.layers.Dense(30, activation="tanh", name="d2"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(20, activation="relu", name="d3"),
            keras.layers.Dense(5, name="out"),
        ]
    )


def test_compact_dense_chain_keeps_outputs_and_removes_units():
    model = _dense_chain()
    _sparsify(model)
    small, report = keras_svd.compact(model)
    x = np.random.default_rng(1).random((16, 8, 8, 1)).astype("float32")
    _assert_same(model, small, x)
    assert isinstance(small, keras.Sequential)
    assert small.input_shape == model.input_shape
    assert small.output_shape == model.output_shape
    assert not small.compiled
    # A gather drops the pixels that no kept weight reads.
    gathers = [
        layer for layer in small.layers
        if isinstance(layer, keras_svd.FeatureGather)
    ]
    assert len(gathers) == 1 and len(gathers[0].indices) < 64
    rows = {row["layer"]: row for row in report.layers}
    for name in ("d1", "d2", "d3"):
        assert rows[name]["units_after"] < rows[name]["units_before"]
        assert rows[name]["macs_after"] < rows[name]["macs_before"]
    assert rows["out"]["units_after"] == 5
    assert report.total("params_after") < report.total("params_before")
    assert report.total("params_before") == model.count_params()
    assert report.total("params_after") == small.count_params()
    assert report.skipped == []
    assert "total" in str(report)


def test_compact_leaves_the_input_model_unchanged():
    model = _dense_chain()
    _sparsify(model)
    before = [w.copy() for w in model.get_weights()]
    config = model.get_config()
    keras_svd.compact(model)
    assert model.get_config() == config
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_compact_conv_pool_flatten_dense_maps_channels(data_format):
    shape = (12, 12, 2) if data_format == "channels_last" else (2, 12, 12)
    model = keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Conv2D(
                8, 3, activation="relu", data_format=data_format, name="c1"
            ),
            keras.layers.Conv2D(
                10, 3, activation="relu", data_format=data_format, name="c2"
            ),
            keras.layers.MaxPooling2D(2, data_format=data_format),
            keras.layers.Flatten(data_format=data_format),
            keras.layers.Dense(12, activation="relu", name="d1"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    _sparsify(model, keep=0.5, seed=2)
    small, report = keras_svd.compact(model)
    x = np.random.default_rng(3).random((4, *shape)).astype("float32")
    _assert_same(model, small, x)
    rows = {row["layer"]: row for row in report.layers}
    assert rows["c1"]["units_after"] < 8
    assert rows["c2"]["units_after"] < 10
    assert report.total("macs_after") < report.total("macs_before")


def test_compact_functional_model_with_batch_norm_between():
    inputs = keras.Input((10,))
    x = keras.layers.Dense(16, name="d1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Dense(4, name="out")(x)
    model = keras.Model(inputs, x)
    _sparsify(model, keep=0.4, seed=4)
    bn = model.get_layer("bn")
    rng = np.random.default_rng(5)
    bn.set_weights(
        [
            rng.normal(1.0, 0.3, 16), rng.normal(0.0, 0.5, 16),
            rng.normal(0.0, 0.5, 16), rng.uniform(0.5, 2.0, 16),
        ]
    )
    small, report = keras_svd.compact(model)
    assert not isinstance(small, keras.Sequential)
    x = rng.normal(size=(8, 10)).astype("float32")
    _assert_same(model, small, x)
    new_bn = small.get_layer("bn")
    units = small.get_layer("d1").units
    assert units < 16
    assert new_bn.moving_mean.shape == (units,)


def test_compact_folds_a_whole_dead_layer_into_the_next_bias():
    model = _dense_chain()
    _sparsify(model, seed=6)
    layer = model.get_layer("d2")
    layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
    small, report = keras_svd.compact(model)
    x = np.random.default_rng(7).random((16, 8, 8, 1)).astype("float32")
    _assert_same(model, small, x)
    # The output is a constant: every layer before it shrinks to one unit.
    rows = {row["layer"]: row for row in report.layers}
    assert rows["d2"]["units_after"] == 1
    assert rows["d1"]["units_after"] == 1
    assert rows["out"]["macs_after"] <= 20 * 5


def test_compact_leaves_units_before_an_unsupported_layer_dense():
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(12, activation="relu", name="d1"),
            keras.layers.Dense(8, activation="relu", name="d2"),
            keras.layers.Reshape((4, 2), name="reshape"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, name="out"),
        ]
    )
    _sparsify(model, keep=0.4, seed=8)
    with pytest.warns(UserWarning, match="reshape"):
        small, report = keras_svd.compact(model)
    x = np.random.default_rng(9).normal(size=(8, 10)).astype("float32")
    _assert_same(model, small, x)
    assert [s["layer"] for s in report.skipped] == ["reshape"]
    assert "Reshape" in report.skipped[0]["reason"]
    rows = {row["layer"]: row for row in report.layers}
    assert rows["d2"]["units_after"] == 8  # its units feed the Reshape
    assert rows["d1"]["units_after"] < 12


def test_compact_reports_a_residual_join_and_keeps_the_model_dense():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(6, name="d1")(inputs)
    y = keras.layers.Dense(6, name="d2")(x)
    outputs = keras.layers.Add(name="join")([x, y])
    model = keras.Model(inputs, outputs)
    _sparsify(model, seed=10)
    with pytest.warns(UserWarning, match="join"):
        small, report = keras_svd.compact(model)
    x = np.random.default_rng(11).normal(size=(4, 6)).astype("float32")
    _assert_same(model, small, x)
    assert report.skipped[0]["layer"] == "join"
    assert report.total("params_after") == report.total("params_before")


def test_compact_does_not_fold_a_constant_through_perma_dropout():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5, name="d1"),
            keras_svd.PermaDropout(0.5, name="mc"),
            keras.layers.Dense(2, name="out"),
        ]
    )
    kernel = np.ones((6, 5), "float32")
    kernel[:, 0] = 0.0  # unit 0: constant 1.0, dropped at random
    kernel[:, 1] = 0.0  # unit 1: constant 0.0, removable
    model.get_layer("d1").set_weights(
        [kernel, np.array([1.0, 0.0, 0.0, 0.0, 0.0], "float32")]
    )
    small, _ = keras_svd.compact(model)
    assert small.get_layer("d1").units == 4
    stripped = keras_svd.strip_variational(model, perma_dropout="identity")
    small_identity, _ = keras_svd.compact(stripped)
    assert small_identity.get_layer("d1").units == 3
    x = np.ones((3, 6), "float32")
    _assert_same(stripped, small_identity, x)


def test_compact_strips_a_variational_model_first(tmp_path):
    model = keras_svd.models.lenet5_caffe(variational=True)
    rng = np.random.default_rng(12)
    for layer in keras_svd.variational_layers(model):
        shape = tuple(layer.log_sigma2.shape)
        layer.log_sigma2.assign(rng.normal(0.0, 4.0, shape).astype("float32"))
    stripped = keras_svd.strip_variational(model)
    small, report = keras_svd.compact(model)
    assert keras_svd.variational_layers(small) == []
    x = rng.random((4, 28, 28, 1)).astype("float32")
    _assert_same(stripped, small, x)
    assert report.total("params_after") < report.total("params_before")
    path = tmp_path / "compact.keras"
    small.save(path)
    reloaded = keras.saving.load_model(path)
    _assert_same(small, reloaded, x)


def test_compact_keeps_an_unpruned_model_whole():
    model = _dense_chain()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        small, report = keras_svd.compact(model)
    assert small.count_params() == model.count_params()
    x = np.random.default_rng(13).random((2, 8, 8, 1)).astype("float32")
    _assert_same(model, small, x)


@pytest.mark.parametrize(
    "arguments, match",
    [
        ({"indices": []}, "indices"),
        ({"indices": [1, 1]}, "indices"),
        ({"indices": [-1]}, "indices"),
        ({"indices": [0], "axis": 0}, "axis"),
        ({"indices": [0], "axis": 1.5}, "axis"),
    ],
)
def test_feature_gather_rejects_bad_arguments(arguments, match):
    with pytest.raises(ValueError, match=f"{match}.*Received: {match}="):
        keras_svd.FeatureGather(**arguments)


def test_feature_gather_takes_features_and_round_trips_config():
    layer = keras_svd.FeatureGather([2, 0], axis=1)
    x = np.arange(12, dtype="float32").reshape(1, 3, 4)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(x)), x[:, [2, 0], :]
    )
    assert layer.compute_output_shape((None, 3, 4)) == (None, 2, 4)
    clone = keras_svd.FeatureGather.from_config(layer.get_config())
    assert clone.indices == [2, 0] and clone.axis == 1
    with pytest.raises(ValueError, match="indices reach 5"):
        keras_svd.FeatureGather([5])(np.ones((1, 3), "float32"))


def test_compact_rejects_what_it_cannot_clone():
    with pytest.raises(ValueError, match="expects a keras.Model"):
        keras_svd.compact(keras.layers.Dense(2))


def test_compact_keeps_a_constant_filter_before_a_same_padded_conv():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(3, 3, padding="same", name="c1"),
            keras.layers.Conv2D(2, 3, padding="same", name="c2"),
        ]
    )
    c1 = model.get_layer("c1")
    kernel = np.ones((3, 3, 1, 3), "float32")
    kernel[..., 0] = 0.0  # filter 0: constant 1.0, but c2 pads with zeros
    kernel[..., 1] = 0.0  # filter 1: constant 0.0, removable
    c1.set_weights([kernel, np.array([1.0, 0.0, 0.5], "float32")])
    small, report = keras_svd.compact(model)
    assert small.get_layer("c1").filters == 2
    x = np.random.default_rng(14).random((2, 6, 6, 1)).astype("float32")
    _assert_same(model, small, x)


def test_compact_inlines_a_nested_chain_model():
    inner = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(8, activation="relu", name="d1"),
            keras.layers.Dense(8, name="inner_dense"),
        ],
        name="inner",
    )
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu", name="d1"),
            inner,
            keras.layers.Dense(3, name="out"),
        ]
    )
    _sparsify(model, seed=15)
    small, report = keras_svd.compact(model)
    assert report.skipped == []
    names = [layer.name for layer in small.layers]
    assert "inner" not in names
    assert {"d1", "d1_2", "inner_dense", "out"} <= set(names)
    x = np.random.default_rng(16).normal(size=(4, 5)).astype("float32")
    _assert_same(model, small, x)
    assert small.count_params() < model.count_params()


def test_compact_reports_a_nested_model_that_is_not_a_chain():
    inner_inputs = keras.Input((8,))
    branch = keras.layers.Dense(8, name="branch")(inner_inputs)
    joined = keras.layers.Add(name="join")([inner_inputs, branch])
    inner = keras.Model(inner_inputs, joined, name="inner")
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu", name="d1"),
            inner,
            keras.layers.Dense(3, name="out"),
        ]
    )
    _sparsify(model, seed=17)
    with pytest.warns(UserWarning, match="inner"):
        small, report = keras_svd.compact(model)
    assert report.skipped[0]["layer"] == "inner"
    assert "not a chain" in report.skipped[0]["reason"]
    x = np.random.default_rng(18).normal(size=(4, 5)).astype("float32")
    _assert_same(model, small, x)


def test_compact_does_not_warn_about_layers_after_the_last_kernel():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="d1"),
            keras.layers.Dense(4, name="out"),
            keras.layers.Softmax(),
            keras.layers.Reshape((2, 2)),
        ]
    )
    _sparsify(model, seed=19)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        small, report = keras_svd.compact(model)
    assert report.skipped == []
    x = np.random.default_rng(20).normal(size=(3, 6)).astype("float32")
    _assert_same(model, small, x)


def test_compact_keeps_the_units_of_a_softmax_layer_between_kernels():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="softmax", name="mixer"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    _sparsify(model, seed=21)
    with pytest.warns(UserWarning, match="mixer"):
        small, report = keras_svd.compact(model)
    assert small.get_layer("mixer").units == 8
    x = np.random.default_rng(22).normal(size=(3, 6)).astype("float32")
    _assert_same(model, small, x)
