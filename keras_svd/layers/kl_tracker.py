"""A metric that reports the models' summed KL term as `kl` in the logs."""

import keras
from keras import ops


class KLGroup:
    """The KL trackers of the variational layers of one model.

    Every variational layer owns one `KLTracker`. A metric's result is merged
    into the logs by name, so the trackers of one model report the same total
    under one key, `kl`: each tracker returns the sum over its group.
    `keras_svd.set_num_train_examples` puts the layers of a model into one
    group. Plain Python object on purpose: Keras does not track it.
    """

    def __init__(self, trackers=()):
        self.trackers = list(trackers)


class KLTracker(keras.metrics.Metric):
    """Running mean over the steps of one layer's `KL / N` term.

    Its `result()` is `{"kl": sum over the group}` once the layer belongs to
    a model's group (set by `keras_svd.set_num_train_examples`), and empty
    before that, so that a model never logs one layer's KL as the total. It
    is empty after an inference pass too (the layers add the KL in training
    only), so `evaluate` logs no `val_kl`. Not on JAX, whose stateless train
    step gives a layer's call no access to metric variables.

    Args:
        name: the metric's name.
    """

    def __init__(self, name="kl_tracker", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="count"
        )
        self._group = None
        # Whether the layer's last forward pass (or trace) was a training
        # one: inference adds no KL term, so `evaluate` logs no `val_kl`.
        self._active = False

    def update_state(self, value):
        self._active = True
        self.total.assign_add(ops.cast(value, "float32"))
        self.count.assign_add(ops.cast(1.0, "float32"))

    def idle(self):
        """Called by the layer's inference pass: nothing to report."""
        self._active = False

    def layer_result(self):
        """This layer's mean `KL / N` since the last reset (a scalar)."""
        return ops.divide_no_nan(self.total, self.count)

    def result(self):
        if (
            self._group is None
            or not self._active
            or keras.backend.backend() == "jax"
        ):
            return {}
        total = self.layer_result()
        for tracker in self._group.trackers:
            if tracker is not self:
                total = total + tracker.layer_result()
        return {"kl": total}

    def join(self, group):
        """Make this tracker report the total of `group` (a `KLGroup`)."""
        if self not in group.trackers:
            group.trackers.append(self)
        self._group = group
