"""Property-based tests of the layers' arguments and shapes (hypothesis).

Over the constructor arguments and the input shapes of `VariationalDense`,
`VariationalConv2D` and `PermaDropout`, valid and invalid alike, a layer is
either rejected with a `ValueError` (at construction, or when it is built
for its inputs: `PermaDropout` is built at construction, so its check of
`noise_shape` against the inputs comes at the first call), or its outputs
have the shape of `compute_output_shape` in every kind of call: eager
(inference and training), symbolic (a `keras.Input` with an unknown batch
size) and compiled (`Model.predict_on_batch`: `tf.function`, `jax.jit`, or
eager under `torch.no_grad`). No other exception type may come out.

The examples are derandomized (the same on every run) and the shapes small,
so the three tests take about a minute together on two CPU cores (290
examples; a quarter of them on JAX, where each new layer compiles).
"""

import math
import warnings

import keras
import numpy as np
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_svd.layers import PermaDropout
from keras_svd.layers import VariationalConv2D
from keras_svd.layers import VariationalDense


# On JAX every new layer compiles its eager `cond` and its predict step
# (about a second each on two CPU cores): a quarter of the examples there.
_EXAMPLES_SCALE = 0.25 if keras.backend.backend() == "jax" else 1.0


def _settings(max_examples):
    return settings(
        max_examples=max(10, int(max_examples * _EXAMPLES_SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        # The autouse seeding fixture runs once per test, which is all the
        # examples need: each layer draws its own noise.
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


# -- Strategies ---------------------------------------------------------------
#
# Every argument is drawn valid; then, in about one example in three, one
# argument is replaced by an invalid value of the kinds users write (wrong
# type, out of range, wrong length), which the constructor must reject with
# a ValueError. The input shapes need no such help: a kernel larger than
# the input, channels that `groups` does not divide or a wrong rank come up
# by themselves and must be rejected at build.

_THRESHOLDS = st.floats(-10, 10, width=32)
_BAD_NUMBERS = [math.inf, math.nan, "3.0", None, True]
_BAD_FLAGS = [1, 0, None, "yes"]


@st.composite
def _arguments(draw, valid, invalid):
    """A dict of keyword arguments, at most one of them invalid.

    Args:
        valid: `{name: strategy}` of the valid values, or a strategy of
            such dicts.
        invalid: `{name: [invalid values]}`, the argument to break and how.
    """
    if isinstance(valid, dict):
        valid = st.fixed_dictionaries(valid)
    kwargs = dict(draw(valid))
    if draw(st.sampled_from([False, False, True])):
        name = draw(st.sampled_from(sorted(invalid)))
        kwargs[name] = draw(st.sampled_from(invalid[name]))
    return kwargs


def _input_shapes(min_rank, max_rank, max_dim=6):
    return st.lists(
        st.integers(1, max_dim), min_size=min_rank, max_size=max_rank
    ).map(tuple)


# -- The property -------------------------------------------------------------


def _check_layer(make_layer, input_shape, training_call=True):
    """Rejected with a ValueError, or outputs of the computed shape.

    Args:
        make_layer: builds the layer from the drawn arguments.
        input_shape: the inputs' shape, batch included.
        training_call: also call it eagerly with `training=True`.
    """
    try:
        layer = make_layer()
    except ValueError:
        return "rejected at construction"
    x = np.random.default_rng(0).uniform(size=input_shape).astype("float32")
    was_built = layer.built
    try:
        with warnings.catch_warnings():
            # The KL term without N, weights born pruned: allowed here.
            warnings.simplefilter("ignore", UserWarning)
            outputs = layer(x)
    except ValueError:
        # Only building (for `PermaDropout`, built at construction, its
        # first call) may reject the inputs.
        assert was_built or not layer.built
        return "rejected at build"
    expected = tuple(layer.compute_output_shape(input_shape))
    assert tuple(outputs.shape) == expected

    if training_call:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            training_outputs = layer(x, training=True)
        assert tuple(training_outputs.shape) == expected

    inputs = keras.Input(batch_shape=(None, *input_shape[1:]))
    symbolic = layer(inputs)
    assert isinstance(symbolic, keras.KerasTensor)
    symbolic_shape = (None, *input_shape[1:])
    assert tuple(symbolic.shape) == tuple(
        layer.compute_output_shape(symbolic_shape)
    )
    assert tuple(symbolic.shape) == (None, *expected[1:])

    model = keras.Model(inputs, symbolic)
    compiled = model.predict_on_batch(x)
    assert tuple(compiled.shape) == expected
    assert np.all(np.isfinite(compiled))
    return "valid"


# -- VariationalDense ---------------------------------------------------------

_DENSE_VALID = {
    "units": st.integers(1, 5),
    "activation": st.sampled_from([None, "relu", "tanh"]),
    "threshold": _THRESHOLDS,
    "train_clip": st.booleans(),
    "use_bias": st.booleans(),
}
_DENSE_INVALID = {
    "units": [0, -1, 2.0, "3", None, True],
    "activation": ["no-such-function", 3],
    "threshold": _BAD_NUMBERS,
    "train_clip": _BAD_FLAGS,
    "use_bias": _BAD_FLAGS,
}


@_settings(max_examples=90)
@given(
    kwargs=_arguments(_DENSE_VALID, _DENSE_INVALID),
    input_shape=_input_shapes(1, 4),
)
def test_variational_dense_outputs_its_computed_shape_or_rejects(
    kwargs, input_shape
):
    def make_layer():
        return VariationalDense(num_train_examples=10, **kwargs)

    event(_check_layer(make_layer, input_shape))


# -- VariationalConv2D --------------------------------------------------------

@st.composite
def _conv_valid(draw):
    """Valid arguments: `groups` divides `filters`, and strides > 1 and
    dilation_rate > 1 do not mix."""
    groups = draw(st.sampled_from([1, 1, 1, 2]))
    steps = draw(st.sampled_from(["strides", "dilation_rate", None]))
    larger = st.sampled_from([2, 3, (1, 2), (2, 1), [2, 2]])
    return {
        "filters": groups * draw(st.integers(1, 3)),
        "groups": groups,
        "kernel_size": draw(
            st.one_of(
                st.integers(1, 4),
                st.tuples(st.integers(1, 4), st.integers(1, 4)),
            )
        ),
        "strides": draw(larger) if steps == "strides" else 1,
        "dilation_rate": draw(larger) if steps == "dilation_rate" else 1,
        "padding": draw(st.sampled_from(["valid", "same", "SAME", "Valid"])),
        "data_format": draw(
            st.sampled_from([None, "channels_last", "channels_first"])
        ),
        "threshold": draw(_THRESHOLDS),
        "train_clip": draw(st.booleans()),
        "use_bias": draw(st.booleans()),
    }


_CONV_INVALID = {
    "filters": [0, -1, 2.0, "3", None],
    "kernel_size": [0, (1, 2, 3), (), "3", None, (2, 0), 2.5, [True, 1]],
    "strides": [0, (1, 2, 3), "1", (1, -1)],
    "dilation_rate": [0, (1, 0), "2", None],
    "padding": ["causal", "full", None, 1],
    "data_format": ["NCHW", "channels_middle", 4],
    "groups": [0, 2.0, "1", None, 5],
    "threshold": _BAD_NUMBERS,
    "train_clip": _BAD_FLAGS,
    "use_bias": _BAD_FLAGS,
}


@_settings(max_examples=110)
@given(
    kwargs=_arguments(_conv_valid(), _CONV_INVALID),
    input_shape=st.one_of(
        _input_shapes(4, 4, max_dim=7),
        _input_shapes(4, 4, max_dim=7),
        _input_shapes(4, 4, max_dim=7),
        _input_shapes(2, 5),
    ),
)
def test_variational_conv2d_outputs_its_computed_shape_or_rejects(
    kwargs, input_shape
):
    def make_layer():
        return VariationalConv2D(num_train_examples=10, **kwargs)

    event(_check_layer(make_layer, input_shape))


# -- PermaDropout -------------------------------------------------------------


@st.composite
def _perma_dropout_cases(draw):
    """`(kwargs, input_shape)`: `noise_shape` usually fits the inputs."""
    input_shape = draw(_input_shapes(1, 4))
    fitting = st.tuples(
        *[st.sampled_from([None, 1, size]) for size in input_shape]
    )
    valid = {
        "rate": st.floats(0, 0.95),
        "noise_shape": st.one_of(st.none(), fitting),
        "seed": st.one_of(st.none(), st.integers(0, 2**16)),
    }
    invalid = {
        "rate": [1.0, -0.1, 1.5, math.nan, "0.5", None, True],
        "noise_shape": [
            "abc",
            3,
            (0,) * len(input_shape),
            (-1,) * len(input_shape),
            (1,) * (len(input_shape) + 1),
            tuple(size + 1 for size in input_shape),
        ],
        "seed": [1.5, "1"],
    }
    return draw(_arguments(valid, invalid)), input_shape


@_settings(max_examples=90)
@given(case=_perma_dropout_cases())
def test_perma_dropout_outputs_its_computed_shape_or_rejects(case):
    kwargs, input_shape = case

    def make_layer():
        return PermaDropout(**kwargs)

    event(_check_layer(make_layer, input_shape, training_call=False))
