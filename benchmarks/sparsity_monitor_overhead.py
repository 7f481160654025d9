"""Overhead of `keras_svd.callbacks.SparsityMonitor` as a share of epoch time.

LeNet-300-100 (784-300-100-10, ReLU, `VariationalDense`) trained on the real
MNIST training set with batches of 100. Two identical models are trained one
epoch at a time, alternately without and with the monitor (the order swapped
every round), after one untimed warm-up epoch each. Epoch time runs from
`on_epoch_begin` to the end of `on_epoch_end`, after the monitor's report.
Printed: the median epoch time of each; the overhead as the median over
rounds of the paired ratio `with / without - 1` (the two epochs of a round
run back to back, which cancels slow drifts of a shared machine) and as the
difference of the medians; and the time spent in the monitor's own hooks
per epoch as a share of the epoch, the least noisy figure. The paired
ratio is also given in process CPU time, which other processes on a shared
CPU machine disturb less than wall time (on a GPU, read the wall time).
Goal: under 2%.

Runs on any Keras backend (`KERAS_BACKEND=jax|torch|tensorflow`).

Usage:

    python benchmarks/sparsity_monitor_overhead.py [--data-dir DIR]
        [--rounds 5] [--batch-size 100] [--jit-compile]
"""

import argparse
import os
import statistics
import sys
import time

import keras
import numpy as np

import keras_svd
from keras_svd import datasets
from keras_svd.callbacks import SparsityMonitor

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA_DIR = os.path.join(REPO_ROOT, "..", "shared", "data", "mnist")


class EpochTimer(keras.callbacks.Callback):
    """Wall and process CPU time from the start of an epoch to its end."""

    def __init__(self):
        super().__init__()
        self.times = []
        self.cpu_times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._cpu_start = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)
        self.cpu_times.append(time.process_time() - self._cpu_start)


class TimedMonitor(SparsityMonitor):
    """A SparsityMonitor that also times its own epoch-end work."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.hook_times = getattr(self, "hook_times", [])

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        super().on_epoch_end(epoch, logs)
        self.hook_times.append(time.perf_counter() - start)


def lenet_300_100(num_train_examples, jit_compile):
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras_svd.layers.VariationalDense(300, activation="relu"),
            keras_svd.layers.VariationalDense(100, activation="relu"),
            keras_svd.layers.VariationalDense(10),
        ]
    )
    keras_svd.set_num_train_examples(model, num_train_examples)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--jit-compile", action="store_true", help="compile with XLA"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1. Received: {args.rounds}")

    (x_train, y_train), _ = datasets.load_numpy(
        "mnist", source_dir=args.data_dir
    )
    x_train = x_train.reshape(len(x_train), -1)
    n = len(x_train)
    keras.utils.set_random_seed(0)
    models = {
        "without": lenet_300_100(n, args.jit_compile),
        "with": lenet_300_100(n, args.jit_compile),
    }
    monitor = TimedMonitor()
    timers = {name: EpochTimer() for name in models}

    def one_epoch(name, timed=True):
        callbacks = [monitor] if name == "with" else []
        if timed:
            callbacks.append(timers[name])
        models[name].fit(
            x_train,
            y_train,
            batch_size=args.batch_size,
            epochs=1,
            verbose=0,
            callbacks=callbacks,
        )

    for name in models:  # Warm-up: tracing and compilation.
        one_epoch(name, timed=False)
    monitor.hook_times = []
    for round_index in range(args.rounds):
        order = ("without", "with")
        if round_index % 2:
            order = order[::-1]
        for name in order:
            one_epoch(name)

    paired = [
        with_time / without_time - 1.0
        for with_time, without_time in zip(
            timers["with"].times, timers["without"].times
        )
    ]
    paired_cpu = [
        with_time / without_time - 1.0
        for with_time, without_time in zip(
            timers["with"].cpu_times, timers["without"].cpu_times
        )
    ]
    without = statistics.median(timers["without"].times)
    with_monitor = statistics.median(timers["with"].times)
    hooks = statistics.median(monitor.hook_times)
    steps = -(-n // args.batch_size)
    print("command:", " ".join([os.path.basename(sys.executable)] + sys.argv))
    print(
        f"backend: {keras.backend.backend()}, keras {keras.__version__}, "
        f"jit_compile={args.jit_compile}, {n} images, batch "
        f"{args.batch_size} ({steps} steps/epoch), {args.rounds} timed "
        "epochs per condition, interleaved"
    )
    print(f"median epoch without monitor: {without:.3f} s")
    print(f"median epoch with monitor:    {with_monitor:.3f} s")
    print(
        "epoch times without / with (s): "
        + ", ".join(
            f"{a:.2f}/{b:.2f}"
            for a, b in zip(timers["without"].times, timers["with"].times)
        )
    )
    print(
        "overhead, median of paired rounds: "
        f"{100.0 * statistics.median(paired):+.2f}% of epoch time"
    )
    print(
        "overhead in process CPU time, median of paired rounds: "
        f"{100.0 * statistics.median(paired_cpu):+.2f}%"
    )
    print(
        "overhead, difference of medians: "
        f"{100.0 * (with_monitor - without) / without:+.2f}% of epoch time"
    )
    print(
        f"monitor's own hooks: {1000.0 * hooks:.2f} ms per epoch = "
        f"{100.0 * hooks / without:.3f}% of epoch time"
    )
    print(
        f"final sparsity: {monitor.last_report['sparsity']:.4f}, "
        f"compression: {monitor.last_report['compression']:.2f}x"
    )


if __name__ == "__main__":
    main()
