"""One process of the data-parallel tests (tests/test_distribution.py).

Run as a script, in a fresh process, because each engine must be set up
before its framework starts: TensorFlow's logical CPU devices, JAX's host
device count (`XLA_FLAGS`, set by the caller) or `jax.distributed`.

It trains a variational LeNet-300-100 twice on the same MNIST slice, the
same seed and so the same initial weights: once on one device (the
reference) and once under the distribution of `--engine`, with
`KLAnnealing` and `SparsityMonitor`, and writes what the tests compare into
`--out`:

- `process_<i>.json`: per run, the loss of the first step (its global batch,
  the initial weights), the same loss computed here in float64 with NumPy
  (`mean NLL + beta * KL / N`, N the global number of training examples),
  the KL term `KL / N` that the layers logged for that step and its float64
  value, the history of `fit`, the seconds it took (and, for `mirrored`,
  whether two replicas sample different weight noise);
- `process_<i>_<run>.npz`: the trained weights.

Deterministic setting (`--noise zero`, the default): no shuffling (the
first global batch is the first `--batch-size` examples, whatever the
sharding), the same seed, and the layers' noise eps set to 0 by replacing
`keras_svd.variational_ops.standard_normal` in this process. A very low
`log_sigma2_init` does not make the noise negligible: log alpha is clipped
at -8, so the noise's standard deviation stays at least
sqrt(exp(-8)) = 1.8% of each pre-activation's scale (with
`log_sigma2_init=-20` it still moved the first-step loss by 2.4e-3), and
the replicas of a strategy draw other samples than one device does. With
eps = 0 a training step computes `mean NLL(theta) + beta * KL / N` exactly,
up to float32 rounding (about 1e-6). `--noise sampled` keeps the noise.
Beta is 1e-3 in the first epoch (then 2e-3), so that the KL part of the
first-step loss, `beta * KL / N` with N = 2000, is about 0.28: a KL counted
once per replica, or divided by a per-replica N, would be off by as much.

Multi-process (`--num-processes 2`): each process joins the job with
`keras_svd.distribution.initialize`, holds its shard of the slice (its part
of every global batch) and feeds it with `auto_shard_dataset=False`; only
process 0 writes `SparsityMonitor`'s TensorBoard files (asked of every
process, under `<out>/process_<i>/`). The reference run is made in each
process on its local device, on the global slice.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

SEED = 7
LEARNING_RATE = 1e-3


def beta(epoch):
    """The KL weight of an epoch: 1e-3, 2e-3, ..."""
    return 1e-3 * (epoch + 1)


def parse_args(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", required=True,
                        choices=("mirrored", "data-parallel"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--reference-epochs", type=int, default=None)
    parser.add_argument("--noise", choices=("zero", "sampled"),
                        default="zero")
    parser.add_argument("--coordinator", default=None)
    parser.add_argument("--num-processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    return parser.parse_args(argv)


def set_up_engine(args):
    """Starts the framework the way the engine needs, before Keras."""
    if args.engine == "mirrored":
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    elif args.num_processes > 1:
        from keras_svd import distribution

        distribution.initialize(
            args.coordinator, args.num_processes, args.process_id
        )


def numpy_first_loss(weights, x, y, beta0, n):
    """`mean NLL + beta0 * KL / N` in float64, and `KL / N`."""
    from keras_svd import variational_ops

    h = x.reshape(len(x), -1).astype("float64")
    kl = 0.0
    for i, (kernel, log_sigma2, bias) in enumerate(weights):
        h = h @ kernel + bias
        if i < len(weights) - 1:
            h = np.maximum(h, 0.0)
        log_alpha = np.clip(
            log_sigma2 - np.log(kernel**2 + variational_ops.EPSILON),
            variational_ops.LOG_ALPHA_MIN,
            variational_ops.LOG_ALPHA_MAX,
        )
        sigmoid = 1.0 / (1.0 + np.exp(-(variational_ops.K3 * log_alpha
                                        + variational_ops.K2)))
        kl += np.sum(
            variational_ops.K1
            - variational_ops.K1 * sigmoid
            + 0.5 * np.log1p(np.exp(-log_alpha))
        )
    h = h - h.max(axis=1, keepdims=True)
    log_p = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
    nll = -np.mean(log_p[np.arange(len(y)), y])
    return float(nll + beta0 * kl / n), float(kl / n)


def make_probe(keras, keras_svd):
    class FirstStepProbe(keras.callbacks.Callback):
        """The initial weights, and the logs of the first step."""

        def __init__(self):
            super().__init__()
            self.initial = None
            self.first = None

        def on_train_begin(self, logs=None):
            as_numpy = keras.ops.convert_to_numpy
            self.initial = [
                tuple(
                    as_numpy(v).astype("float64")
                    for v in (layer.kernel, layer.log_sigma2, layer.bias)
                )
                for layer in keras_svd.variational_layers(self.model)
            ]

        def on_train_batch_end(self, batch, logs=None):
            if self.first is None:
                kl = keras_svd.read_kl_log(self.model, reset=False)
                self.first = {"loss": float(logs["loss"]), **kl}

    return FirstStepProbe()


def train(keras, keras_svd, x, y, n, batch_size, epochs, log_dir=None):
    """Trains LeNet-300-100 from the seed; returns the record and weights."""
    keras.utils.set_random_seed(SEED)
    model = keras_svd.models.lenet_300_100()
    keras_svd.set_num_train_examples(model, n)
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    probe = make_probe(keras, keras_svd)
    start = time.perf_counter()
    history = model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[
            keras_svd.callbacks.KLAnnealing(beta),
            keras_svd.callbacks.SparsityMonitor(
                log_dir=log_dir, per_layer=False
            ),
            probe,
        ],
    )
    seconds = time.perf_counter() - start
    weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
    return probe, history.history, seconds, weights


def replicas_noise_differs(keras, keras_svd):
    """Whether two MirroredStrategy replicas sample different weight noise.

    Both replicas get the same inputs; with noise drawn from one shared
    seed state they would return the same sample.
    """
    import tensorflow as tf

    from keras_svd import distribution

    strategy = distribution.get(distribution.MIRRORED)
    with strategy.scope():
        layer = keras_svd.layers.VariationalDense(
            8, log_sigma2_init=0.0, num_train_examples=10
        )
        layer.build((None, 4))
    x = np.ones((2, 4), "float32")
    batches = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(2)
    )

    @tf.function
    def step(batch):
        return strategy.run(lambda v: layer(v, training=True), args=(batch,))

    outputs = strategy.experimental_local_results(step(next(iter(batches))))
    first, second = (keras.ops.convert_to_numpy(o) for o in outputs)
    return bool(not np.allclose(first, second))


def main(argv=None):
    args = parse_args(argv)
    set_up_engine(args)

    import keras

    import keras_svd
    from keras_svd import distribution
    from keras_svd import variational_ops

    sampled_noise = variational_ops.standard_normal
    if args.noise == "zero":
        # The deterministic setting: the layers' eps is 0 (see above).
        variational_ops.standard_normal = (
            lambda shape, seed: keras.ops.zeros(shape, "float32")
        )
    from keras_svd.datasets import load_numpy

    (x, y), _ = load_numpy("mnist", source_dir=args.mnist)
    x, y = x[: args.train_size], y[: args.train_size].astype("int32")
    n = len(x)
    p, num = args.process_id, args.num_processes
    # This process's part of every global batch: global batch k is the
    # examples k * B to (k + 1) * B - 1, process p holds its p-th slice.
    local = np.arange(n).reshape(-1, num, args.batch_size // num)[:, p]
    x_local, y_local = x[local.ravel()], y[local.ravel()]

    record = {"process_id": p, "num_processes": num, "runs": {}}
    os.makedirs(args.out, exist_ok=True)
    runs = [("reference", None), ("distributed", args.engine)]
    for run, name in runs:
        log_dir, replicas, epochs = None, 1, args.epochs
        if name is None:
            epochs = args.reference_epochs or args.epochs
            context = distribution.scope("none")
            data = (x, y, args.batch_size)
        else:
            dist = distribution.get(name)
            if num > 1:
                # The arrays are this process's shard already.
                dist.auto_shard_dataset = False
            context = dist.scope()
            replicas = (
                dist.num_replicas_in_sync
                if name == distribution.MIRRORED
                else int(np.size(dist.device_mesh.devices))
            )
            data = (x_local, y_local, args.batch_size // num)
            if num > 1:
                log_dir = os.path.join(args.out, f"process_{p}", "logs")
        with context:
            probe, history, seconds, weights = train(
                keras, keras_svd, *data[:2], n, data[2], epochs,
                log_dir=log_dir,
            )
        expected_loss, expected_kl = numpy_first_loss(
            probe.initial, x[: args.batch_size], y[: args.batch_size],
            beta(0), n,
        )
        record["runs"][run] = {
            "first_loss": probe.first["loss"],
            "first_kl": probe.first["kl"],
            "first_kl_loss": probe.first["kl_loss"],
            "expected_first_loss": expected_loss,
            "expected_first_kl": expected_kl,
            "initial_weights_sum": float(
                sum(np.sum(np.abs(w)) for layer in probe.initial
                    for w in layer)
            ),
            "history": {k: [float(v) for v in vs]
                        for k, vs in history.items()},
            "seconds": seconds,
            "replicas": replicas,
            "is_chief": distribution.is_chief(),
        }
        np.savez(
            os.path.join(args.out, f"process_{p}_{run}.npz"), *weights
        )
    if args.engine == "mirrored":
        variational_ops.standard_normal = sampled_noise
        record["replicas_draw_different_noise"] = replicas_noise_differs(
            keras, keras_svd
        )
    with open(os.path.join(args.out, f"process_{p}.json"), "w") as f:
        json.dump(record, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
