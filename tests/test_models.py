import numpy as np
import keras
import pytest

import keras_svd
from keras_svd import models
from keras_svd.layers import PermaDropout
# Imported on purpose: its `__test__ = False` keeps pytest from collecting it.
from keras_svd.models import test_time_dropout_cnn


def _kernel_weights(model):
    return sum(
        int(np.prod(layer.kernel.shape))
        for layer in model.layers
        if hasattr(layer, "kernel")
    )


@pytest.mark.parametrize(
    "builder, kernel_weights, params",
    [
        # 784*300 + 300*100 + 100*10 kernels, plus 410 biases.
        (models.lenet_300_100, 266_200, 266_610),
        # 500 + 25,000 + 400,000 + 5,000 kernels, plus 580 biases.
        (models.lenet5_caffe, 430_500, 431_080),
    ],
)
def test_lenet_shapes_and_counts(builder, kernel_weights, params):
    dense = builder(variational=False)
    variational = builder(variational=True, train_clip=True)
    for model in (dense, variational):
        assert tuple(model.outputs[0].shape) == (None, 10)
        assert _kernel_weights(model) == kernel_weights
    assert dense.count_params() == params
    # Variational: one log_sigma2 per kernel weight, plus 3 scalars a layer.
    n_layers = len(keras_svd.variational_layers(variational))
    # Per layer: log sigma^2, three scalars of state and the `kl` log (3).
    assert variational.count_params() == params + kernel_weights + 6 * n_layers
    assert sum(r["weights"] for r in keras_svd.sparsity_report(variational)) == (
        kernel_weights
    )
    assert all(l.train_clip for l in keras_svd.variational_layers(variational))


def test_architectures_match_between_variants():
    for builder in (models.lenet_300_100, models.lenet5_caffe):
        dense = builder(variational=False)
        variational = builder(variational=True)
        x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
        # Same kernels in both and log_sigma2 = -30, so that every weight
        # is kept: the same deterministic outputs.
        for d, v in zip(dense.layers, variational.layers):
            if d.weights:
                weights = v.get_weights()
                weights[0] = d.get_weights()[0]
                weights[1] = np.full_like(weights[1], -30.0)
                weights[2 if len(weights) > 2 else 1] = d.get_weights()[1]
                v.set_weights(weights)
        np.testing.assert_allclose(
            dense.predict(x, verbose=0),
            variational.predict(x, verbose=0),
            rtol=1e-4,
            atol=1e-5,
        )


@pytest.mark.parametrize("width, first, dense", [(1.0, 64, 512), (0.25, 16, 128)])
def test_vgg_like_width(width, first, dense):
    model = models.vgg_like(width=width)
    convs = [l for l in model.layers if "conv" in l.name]
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(convs) == 13 and len(bns) == 14
    assert convs[0].filters == first
    assert model.get_layer("dense").units == dense
    assert tuple(model.outputs[0].shape) == (None, 10)
    plain = models.vgg_like(variational=False, width=width)
    assert not keras_svd.variational_layers(plain)


def test_mc_dropout_cnn_layout():
    model = models.mc_dropout_cnn(128, conv_rate=0.5, hidden_rate=0.9)
    drops = [l for l in model.layers if isinstance(l, PermaDropout)]
    assert [d.rate for d in drops] == [0.5, 0.5, 0.9]
    assert model.get_layer("dense_hidden").units == 128
    assert tuple(model.outputs[0].shape) == (None, 10)
    assert model.name == "mc_dropout_cnn"


def test_test_time_dropout_cnn_warns_and_builds_the_mc_dropout_cnn():
    with pytest.warns(DeprecationWarning, match="mc_dropout_cnn") as record:
        model = test_time_dropout_cnn(128, hidden_rate=0.9)
    assert record[0].filename == __file__  # stacklevel=2: the caller's line
    assert model.get_layer("dense_hidden").units == 128
    assert [l.rate for l in model.layers if isinstance(l, PermaDropout)] == [
        0.5,
        0.5,
        0.9,
    ]


def test_pytest_does_not_collect_the_imported_alias(request):
    assert test_time_dropout_cnn.__test__ is False
    names = [item.name for item in request.session.items]
    assert "test_time_dropout_cnn" not in names


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: models.lenet_300_100(variational="yes"), "variational="),
        (lambda: models.vgg_like(width=0), "Received: width=0"),
        (lambda: models.mc_dropout_cnn(0), "Received: hidden_units=0"),
        (lambda: models.mc_dropout_cnn(hidden_rate=1.0), "rate=1.0"),
        (lambda: models.lenet_300_100(units=(300,)), "Received: units=\\(300,\\)"),
        (lambda: models.lenet_300_100(units=(0, 10)), "units=\\(0, 10\\)"),
        (lambda: models.lenet5_caffe(filters=(20, 2.5)), "filters="),
        (lambda: models.lenet5_caffe(units=0), "Received: units=0"),
    ],
)
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_lenet_widths_are_arguments_with_unique_layer_names():
    mlp = models.lenet_300_100(units=(32, 32), num_train_examples=10)
    assert [l.name for l in mlp.layers[1:]] == [
        "dense_32_1", "dense_32_2", "logits"
    ]
    assert [l.units for l in keras_svd.variational_layers(mlp)] == [32, 32, 10]
    cnn = models.lenet5_caffe(variational=False, filters=(8, 16), units=64)
    assert [l.filters for l in cnn.layers if hasattr(l, "filters")] == [8, 16]
    assert cnn.get_layer("dense_64").units == 64
