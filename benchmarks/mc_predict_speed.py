"""Time of `keras_svd.mc_predict` against a loop of `model.predict` calls.

The PermaDropout CNN of the test-time-dropout experiment
(`keras_svd.models.mc_dropout_cnn()`: dense 500, dropout 0.5) predicts
the real MNIST test images T times in two ways, in the same process:

- loop: `[model.predict(x, verbose=0) for _ in range(T)]`, Keras's default
  batch size (32) unless `--predict-batch-size` is given;
- mc_predict: `keras_svd.mc_predict(model, x, samples=T)` with its
  defaults (or `--batch-size` / `--chunk-size`).

Both are warmed up first (tracing) on 256 images, then timed for `--rounds`
rounds, interleaved, the order swapped every round, so that a slow drift of
a shared machine hits both alike. Printed: each time (wall and process CPU),
the ratio mc_predict / loop of the medians and the median of the paired
per-round ratios (goal: at most 0.15), and, as a check that both compute
the same thing, the largest difference between the two mean predictions in
units of its Monte-Carlo standard error. The weights are the trained ones
from `--model` when that file exists (the time does not depend on them),
else freshly initialized.

Usage:

    python benchmarks/mc_predict_speed.py [--data-dir DIR] [--samples 50]
        [--images 10000] [--rounds 2] [--output FILE.json]
"""

import argparse
import json
import os
import statistics
import time

import keras
import numpy as np

import keras_svd
from keras_svd import datasets
from keras_svd.mc_predict import mc_predict
import provenance

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO_ROOT, "benchmarks", "results", "test_time_dropout")


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--predict-batch-size", type=int, default=None)
    parser.add_argument(
        "--model", default=os.path.join(RESULTS, "cnn500_rate0.5.keras")
    )
    parser.add_argument(
        "--output", default=os.path.join(RESULTS, "mc_predict_speed.json")
    )
    args = parser.parse_args(argv)
    for name in ("samples", "images", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")

    _, (x_test, y_test) = datasets.load_numpy(
        "mnist", source_dir=args.data_dir or datasets.default_mnist_dir()
    )
    x, y = x_test[: args.images], y_test[: args.images]
    if os.path.exists(args.model):
        model = keras.models.load_model(args.model)
        weights = os.path.relpath(args.model)
    else:
        keras.utils.set_random_seed(0)
        model = keras_svd.models.mc_dropout_cnn()
        weights = "untrained"
    samples = args.samples

    def loop():
        return [
            model.predict(x, batch_size=args.predict_batch_size, verbose=0)
            for _ in range(samples)
        ]

    def batched():
        return mc_predict(
            model,
            x,
            samples=samples,
            batch_size=args.batch_size,
            chunk_size=args.chunk_size,
        )

    # Warm-up: trace both on a slice.
    model.predict(x[:256], batch_size=args.predict_batch_size, verbose=0)
    mc_predict(
        model, x[:256], samples=samples, batch_size=args.batch_size,
        chunk_size=args.chunk_size,
    )
    times = {"loop": [], "mc_predict": []}
    cpu_times = {"loop": [], "mc_predict": []}
    outputs = {}
    for round_index in range(args.rounds):
        order = ["loop", "mc_predict"]
        if round_index % 2:
            order.reverse()
        for name in order:
            value, wall, cpu = timed(loop if name == "loop" else batched)
            times[name].append(wall)
            cpu_times[name].append(cpu)
            outputs[name] = value
            print(f"round {round_index}: {name} {wall:.1f} s", flush=True)

    loop_probs = np.stack(
        [
            keras.ops.convert_to_numpy(keras.ops.softmax(o))
            for o in outputs["loop"]
        ]
    )
    result = outputs["mc_predict"]
    # Difference of two independent means, in standard errors.
    stderr = np.sqrt((loop_probs.var(0) + result.std**2) / samples) + 1e-6
    z = float(np.max(np.abs(loop_probs.mean(0) - result.mean) / stderr))
    ratio_of_medians = statistics.median(
        times["mc_predict"]
    ) / statistics.median(times["loop"])
    paired = [b / a for a, b in zip(times["loop"], times["mc_predict"])]
    paired_cpu = [
        b / a for a, b in zip(cpu_times["loop"], cpu_times["mc_predict"])
    ]
    command = provenance.command_line()
    record = {
        "command": command,
        **provenance.environment(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "images": int(len(x)),
        "samples": samples,
        "weights": weights,
        "predict_batch_size": args.predict_batch_size or 32,
        "mc_predict_batch_size": args.batch_size,
        "mc_predict_chunk_size": args.chunk_size,
        "seconds": times,
        "cpu_seconds": cpu_times,
        "ratio_of_medians": ratio_of_medians,
        "paired_ratios": paired,
        "paired_cpu_ratios": paired_cpu,
        "goal": 0.15,
        "max_mean_difference_in_standard_errors": z,
        "accuracy_loop_mean": float(
            np.mean(loop_probs.mean(0).argmax(-1) == y)
        ),
        "accuracy_mc_predict": float(np.mean(result.predicted_class == y)),
    }
    if args.output:
        folder = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(folder, exist_ok=True)
        with open(args.output, "w") as f:
            json.dump(record, f, indent=2)
    print("command:", command)
    print(
        f"backend {record['backend']}, keras {record['keras']}, "
        f"{len(x)} images x {samples} samples, {args.rounds} rounds "
        f"interleaved, {os.cpu_count()} CPUs, load average at end "
        f"{record['load_average_at_end'][0]:.1f}, weights: {weights}"
    )
    for name in times:
        print(
            f"{name}: " + ", ".join(f"{t:.1f}" for t in times[name])
            + " s wall; "
            + ", ".join(f"{t:.1f}" for t in cpu_times[name])
            + " s CPU"
        )
    print(
        f"mc_predict / loop: {ratio_of_medians:.3f} (ratio of medians); "
        f"paired per round: {', '.join(f'{r:.3f}' for r in paired)}; "
        f"in CPU time: {', '.join(f'{r:.3f}' for r in paired_cpu)} "
        "(goal <= 0.15)"
    )
    print(
        "check: accuracy of the loop's mean "
        f"{record['accuracy_loop_mean']:.4f}, of mc_predict "
        f"{record['accuracy_mc_predict']:.4f}; largest difference of the "
        f"means {z:.2f} standard errors"
    )


if __name__ == "__main__":
    main()
