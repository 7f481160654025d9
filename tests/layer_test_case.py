"""A shared layer check on the public Keras API (after keras's run_layer_test)."""

import numpy as np
import keras


def _random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    expected_num_trainable_weights,
    expected_num_non_trainable_weights,
    expected_num_losses,
    run_training_check=True,
    run_mixed_precision_check=True,
):
    """Checks one layer class end to end.

    Config and serialization round trips, every constructor argument in the
    config, build, symbolic call, eager call with the expected number of added
    losses, one `fit` step with a finite loss, and the same under the
    `mixed_float16` policy with finite outputs and losses.
    """
    # Config round trip, every argument carried.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key in init_kwargs:
        assert key in config, f"get_config drops the argument {key!r}"
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config

    # Serialization round trip through the registry.
    serialized = keras.saving.serialize_keras_object(layer)
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert type(deserialized) is layer_cls
    assert deserialized.get_config() == config

    # Build.
    layer = layer_cls(**init_kwargs)
    layer.build(input_shape)
    assert layer.built
    assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert (
        len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    )

    # Symbolic call.
    layer = layer_cls(**init_kwargs)
    inputs = keras.Input(shape=input_shape[1:], batch_size=input_shape[0])
    outputs = layer(inputs)
    assert tuple(outputs.shape) == tuple(expected_output_shape)
    assert tuple(layer.compute_output_shape(input_shape)) == tuple(
        expected_output_shape
    )

    # Eager calls, in training (losses added) and at inference.
    layer = layer_cls(**init_kwargs)
    x = _random(input_shape)
    y = layer(x, training=True)
    assert tuple(y.shape) == tuple(expected_output_shape)
    assert len(layer.losses) == expected_num_losses
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))
    y = layer(x, training=False)
    assert tuple(y.shape) == tuple(expected_output_shape)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))

    if run_training_check:
        _fit_one_step(layer_cls, init_kwargs, input_shape, expected_output_shape)

    if run_mixed_precision_check:
        kwargs = dict(init_kwargs, dtype="mixed_float16")
        layer = layer_cls(**kwargs)
        y = layer(x, training=True)
        assert keras.backend.standardize_dtype(y.dtype) == "float16"
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))
        for loss in layer.losses:
            assert np.isfinite(float(keras.ops.convert_to_numpy(loss)))
        if run_training_check:
            _fit_one_step(layer_cls, kwargs, input_shape, expected_output_shape)


def _fit_one_step(layer_cls, init_kwargs, input_shape, output_shape):
    model = keras.Sequential(
        [keras.Input(shape=input_shape[1:]), layer_cls(**init_kwargs)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = _random(input_shape, seed=1)
    y = _random(output_shape, seed=2)
    history = model.fit(
        x, y, batch_size=input_shape[0], epochs=1, verbose=0
    )
    loss = history.history["loss"][0]
    assert np.isfinite(loss), f"non-finite loss {loss}"
