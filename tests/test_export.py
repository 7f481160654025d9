"""The stripped and compact models leave Keras: TFLite and SavedModel."""

import keras
import numpy as np
import pytest

import keras_svd

TENSORFLOW_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TFLite and SavedModel export need the TensorFlow backend",
)


def _pruned_cnn():
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras_svd.VariationalConv2D(6, 3, activation="relu", name="conv"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras_svd.VariationalDense(24, activation="relu", name="hidden"),
            keras_svd.PermaDropout(0.5, name="mc"),
            keras_svd.VariationalDense(4, name="out"),
        ]
    )
    rng = np.random.default_rng(0)
    for layer in keras_svd.variational_layers(model):
        shape = tuple(layer.log_sigma2.shape)
        layer.log_sigma2.assign(rng.normal(0.0, 4.0, shape).astype("float32"))
    return model


def _inputs(n=5):
    return np.random.default_rng(1).random((n, 12, 12, 1)).astype("float32")


def _deployable():
    model = _pruned_cnn()
    stripped = keras_svd.strip_variational(model, perma_dropout="identity")
    small, report = keras_svd.compact(stripped)
    assert report.total("params_after") < report.total("params_before")
    return {"stripped": stripped, "compact": small}


def _tflite_outputs(model, x):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    (inputs,) = interpreter.get_input_details()
    (outputs,) = interpreter.get_output_details()
    rows = []
    for row in x:  # The converted signature has batch 1.
        interpreter.set_tensor(inputs["index"], row[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(outputs["index"])[0])
    return np.stack(rows)


@TENSORFLOW_ONLY
@pytest.mark.parametrize("which", ["stripped", "compact"])
def test_tflite_conversion_keeps_outputs(which):
    model = _deployable()[which]
    x = _inputs()
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(
        _tflite_outputs(model, x), expected, rtol=1e-5, atol=1e-5
    )


@TENSORFLOW_ONLY
@pytest.mark.parametrize("which", ["stripped", "compact"])
def test_saved_model_export_reloads_with_equal_outputs(which, tmp_path):
    import tensorflow as tf

    model = _deployable()[which]
    x = _inputs()
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    path = str(tmp_path / which)
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)
    np.testing.assert_allclose(
        reloaded.serve(tf.constant(x)).numpy(), expected, rtol=1e-5, atol=1e-5
    )


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="JAX's export path (jax2tf); TensorFlow's is tested above",
)
@pytest.mark.parametrize("which", ["stripped", "compact"])
def test_jax_exports_a_saved_model_through_jax2tf(which, tmp_path):
    import tensorflow as tf

    model = _deployable()[which]
    x = _inputs()
    model.export(str(tmp_path / which), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / which))
    np.testing.assert_allclose(
        reloaded.serve(x).numpy(), model.predict(x, verbose=0),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="PyTorch's export format (torch.export)",
)
@pytest.mark.parametrize("which", ["stripped", "compact"])
def test_torch_exports_a_torch_export_program(which, tmp_path):
    import torch

    model = _deployable()[which]
    x = _inputs()
    path = tmp_path / f"{which}.pt2"
    model.export(str(path), format="torch", verbose=False)
    module = torch.export.load(str(path)).module()
    # Keras exports the batch dimension as 1 (a static shape).
    outputs = [module(torch.from_numpy(row[None])) for row in x]
    np.testing.assert_allclose(
        np.concatenate([o.detach().cpu().numpy() for o in outputs]),
        model.predict(x, verbose=0),
        rtol=1e-5, atol=1e-5,
    )
