"""`FeatureGather`: keeps the listed features of one axis (for `compact`)."""

import keras
from keras import ops

from keras_svd.validation import is_integer


@keras.saving.register_keras_serializable(package="keras_svd")
class FeatureGather(keras.layers.Layer):
    """Keeps the features at `indices` along `axis`, in that order.

    `keras_svd.compact` puts one before a layer whose kernel reads only
    some of its input features (the pixels that a pruned first layer never
    looks at, the positions of a flattened feature map that every kept
    weight ignores): the compact model still takes the original input, and
    the layer after the gather has a smaller kernel. `ops.take` on the
    backend (TFLite's `GATHER`).

    Args:
        indices: list of distinct non-negative integers, the features to
            keep, in order.
        axis: the feature axis of the inputs (default -1); not the batch
            axis.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor whose `axis` has more than `max(indices)` entries.

    Input shape:
        Any rank >= 2, `(batch, ..., features, ...)`.

    Output shape:
        The input shape with `len(indices)` entries on `axis`.

    Example:

    ```python
    layer = keras_svd.FeatureGather([0, 2], axis=-1)
    layer(keras.ops.ones((1, 3)))  # shape (1, 2)
    ```
    """

    def __init__(self, indices, axis=-1, **kwargs):
        if (
            isinstance(indices, (str, bytes))
            or not hasattr(indices, "__len__")
            or len(indices) == 0
            or not all(is_integer(i) and int(i) >= 0 for i in indices)
            or len(set(int(i) for i in indices)) != len(indices)
        ):
            raise ValueError(
                "indices must be a non-empty list of distinct non-negative "
                f"integers. Received: indices={indices!r}"
            )
        if not is_integer(axis) or int(axis) == 0:
            raise ValueError(
                "axis must be an integer other than 0 (the batch axis). "
                f"Received: axis={axis!r}"
            )
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]
        self.axis = int(axis)

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(
                f"axis is not a feature axis of inputs of shape "
                f"{tuple(input_shape)}. Received: axis={self.axis}"
            )
        size = input_shape[self.axis]
        if size is not None and max(self.indices) >= size:
            raise ValueError(
                f"indices reach {max(self.indices)}, but axis {self.axis} "
                f"of inputs of shape {tuple(input_shape)} has {size} entries. "
                f"Received: indices={self.indices}"
            )

    def call(self, inputs):
        indices = ops.convert_to_tensor(self.indices, dtype="int32")
        if keras.backend.backend() != "tensorflow":
            return ops.take(inputs, indices, axis=self.axis)
        # On TensorFlow, gathered along the first axis, where each index
        # selects one contiguous run of memory: TensorFlow's CPU gather along
        # the last axis of a (1000, 784) batch took 2.7 ms, the transposed
        # one 1.2 ms (benchmarks/RESULTS.md, "Export"). On PyTorch the
        # transposes cost more than they save; XLA (JAX) fuses either form.
        moved = ops.moveaxis(inputs, self.axis, 0)
        return ops.moveaxis(ops.take(moved, indices, axis=0), 0, self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[self.axis] = len(self.indices)
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "indices": list(self.indices),
            "axis": self.axis,
        }


__all__ = ["FeatureGather"]
