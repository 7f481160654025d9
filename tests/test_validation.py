"""The shared argument checks: accepted values and the wording of errors."""

import numpy as np
import pytest

from keras_svd import validation


@pytest.mark.parametrize("value", [True, False, np.True_, np.False_])
def test_check_bool_accepts_bools_and_returns_a_python_bool(value):
    result = validation.check_bool(value, "flag")
    assert type(result) is bool
    assert result == bool(value)


@pytest.mark.parametrize("value", [1, 0, "yes", None, 1.0, np.array([True])])
def test_check_bool_rejects_other_values_naming_the_argument(value):
    with pytest.raises(
        ValueError, match=r"flag must be True or False\. Received: flag="
    ):
        validation.check_bool(value, "flag")


def test_every_bool_argument_uses_the_same_wording():
    import keras_svd

    cases = [
        lambda: keras_svd.layers.VariationalDense(2, train_clip=1),
        lambda: keras_svd.callbacks.SparsityMonitor(per_layer=1),
        lambda: keras_svd.models.lenet_300_100(variational=1),
    ]
    for case in cases:
        with pytest.raises(ValueError, match=r"must be True or False\."):
            case()


def test_check_positive_int():
    assert validation.check_positive_int(np.int64(3), "n") == 3
    assert validation.check_positive_int(None, "n", allow_none=True) is None
    for bad in (0, -1, 2.0, True, None, "3"):
        with pytest.raises(ValueError, match=r"Received: n="):
            validation.check_positive_int(bad, "n")


def test_check_finite_number():
    assert validation.check_finite_number(np.float32(0.5), "x") == 0.5
    assert validation.check_finite_number(2, "x", minimum=2) == 2.0
    for bad in (float("nan"), float("inf"), True, "1", None):
        with pytest.raises(ValueError, match=r"x must be a finite number"):
            validation.check_finite_number(bad, "x")
    with pytest.raises(ValueError, match=r">= 0\. Received: x=-1"):
        validation.check_finite_number(-1, "x", minimum=0)


def test_numpy_bools_are_stored_as_python_bools():
    import json

    import keras_svd

    layer = keras_svd.layers.VariationalDense(2, train_clip=np.True_)
    config = layer.get_config()
    assert config["train_clip"] is True
    json.dumps(config)  # a NumPy bool would not serialize


def test_check_verbose():
    for good in (0, 1, 2):
        validation.check_verbose(good)
    for bad in (3, -1, True, "1", None):
        with pytest.raises(
            ValueError, match=r"verbose must be 0, 1 or 2\. Received: verbose="
        ):
            validation.check_verbose(bad)


def test_both_callbacks_check_verbose():
    import keras_svd

    for make in (
        lambda: keras_svd.callbacks.SparsityMonitor(verbose=True),
        lambda: keras_svd.callbacks.KLAnnealing(1.0, verbose=3),
    ):
        with pytest.raises(ValueError, match=r"verbose must be 0, 1 or 2"):
            make()


def test_check_rate():
    assert validation.check_rate(np.float32(0.5), "rate") == 0.5
    assert type(validation.check_rate(0, "rate")) is float
    for bad in (1.0, -0.1, float("nan"), "0.5", True, None):
        with pytest.raises(
            ValueError, match=r"conv_rate must be in \[0, 1\)\. Received: "
        ):
            validation.check_rate(bad, "conv_rate")


def test_check_seed():
    assert validation.check_seed(None) is None
    assert validation.check_seed(np.int64(3)) == 3
    for bad in (1.5, "1", True):
        with pytest.raises(ValueError, match=r"Received: seed="):
            validation.check_seed(bad)


def test_check_path(tmp_path):
    assert validation.check_path(tmp_path, "folder") == str(tmp_path)
    assert validation.check_path(None, "folder", allow_none=True) is None
    for bad in (None, 3, b"bytes", ["a"]):
        with pytest.raises(TypeError, match=r"Received: folder="):
            validation.check_path(bad, "folder")


def test_get_identifier_names_the_argument():
    import keras

    initializer = validation.get_identifier(
        keras.initializers, "zeros", "kernel_initializer"
    )
    assert isinstance(initializer, keras.initializers.Zeros)
    assert validation.get_identifier(keras.constraints, None, "c") is None
    with pytest.raises(
        ValueError,
        match=r"Could not interpret bias_initializer: .*"
        r"Received: bias_initializer='nope'",
    ):
        validation.get_identifier(
            keras.initializers, "nope", "bias_initializer"
        )
