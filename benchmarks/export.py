"""What export gains: dense vs stripped vs compact LeNet-300-100 on MNIST.

Trains a variational LeNet-300-100 briefly on real MNIST (Adam 1e-3, batch
100, `train_clip`, the KL weight linear from 0 to 1 over the first half of
`--epochs`), then compares three deployable models:

- dense: the plain LeNet-300-100 (`variational=False`), same architecture,
  untrained (for sizes and speed only);
- stripped: `keras_svd.strip_variational(model, perma_dropout="identity")`,
  plain layers with the pruned kernels (zeros stored);
- compact: `keras_svd.compact(stripped)`, the dead units removed.

For each: parameters (and nonzero ones), multiply-adds per example, test
accuracy, the `.keras` file size, the `keras_svd.save_sparse` file size,
the TFLite flatbuffer size (TensorFlow backend), and the inference latency
of `predict_on_batch` at batch 1 and 1000 (`--repeats` interleaved rounds of
`--calls` calls per model, after a warm-up; the median per call), and of
the TFLite interpreter at batch 1. Prints the figures and the command.

    python benchmarks/export.py --data-dir ../shared/data/mnist --epochs 10
"""

import argparse
import os
import tempfile
import time

import keras
import numpy as np

import keras_svd
import provenance
from keras_svd import models


def _train(x_train, y_train, epochs, batch_size):
    model = models.lenet_300_100(variational=True, train_clip=True)
    keras_svd.set_num_train_examples(model, len(x_train))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    ramp_end = max(1, epochs // 2)
    model.fit(
        x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=2,
        callbacks=[
            keras_svd.callbacks.KLAnnealing(
                keras_svd.schedules.LinearWarmup(0, ramp_end)
            )
        ],
    )
    return model


def _macs(model):
    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            out = tuple(layer.output.shape)[1:]
            kernel = int(np.prod(layer.kernel.shape))
            total += kernel * int(np.prod(out)) // out[-1]
    return total


def _nonzero(model):
    return int(sum(np.count_nonzero(w) for w in model.get_weights()))


def _accuracy(model, x, y):
    logits = model.predict(x, batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == y))


def _sizes(model, folder, name):
    keras_path = os.path.join(folder, f"{name}.keras")
    model.save(keras_path)
    sparse_size = keras_svd.save_sparse(
        model, os.path.join(folder, f"{name}.npz")
    )
    sizes = {"keras_bytes": os.path.getsize(keras_path),
             "sparse_bytes": sparse_size}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
        sizes["tflite_bytes"] = len(flatbuffer)
        sizes["tflite"] = flatbuffer
    return sizes


def _tflite_runner(flatbuffer, x):
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]

    def run():
        interpreter.set_tensor(index, x)
        interpreter.invoke()

    return run


def _latencies(runners, repeats, calls):
    """Median seconds per call of each runner, timed interleaved."""
    times = {name: [] for name in runners}
    for run in runners.values():
        for _ in range(3):
            run()
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            times[name].append((time.perf_counter() - start) / calls)
    return {name: float(np.median(t)) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = keras_svd.datasets.load_numpy(
        "mnist", args.data_dir
    )
    keras.utils.set_random_seed(0)
    trained = _train(x_train, y_train, args.epochs, args.batch_size)
    print(keras_svd.sparsity_table(keras_svd.measure_sparsity(trained)))

    dense = models.lenet_300_100(variational=False)
    stripped = keras_svd.strip_variational(trained, perma_dropout="identity")
    small, report = keras_svd.compact(stripped)
    print(report)
    deployed = {"dense": dense, "stripped": stripped, "compact": small}

    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, model in deployed.items():
            rows[name] = {
                "params": model.count_params(),
                "nonzero": _nonzero(model),
                "macs": _macs(model),
                # The dense model is untrained: timing and sizes only.
                "accuracy": None if name == "dense" else _accuracy(
                    model, x_test, y_test
                ),
                **_sizes(model, folder, name),
            }
    np.testing.assert_allclose(
        small.predict(x_test[:1000], verbose=0),
        stripped.predict(x_test[:1000], verbose=0),
        rtol=1e-5, atol=1e-5,
    )

    for batch in (1, 1000):
        x = x_test[:batch]
        runners = {
            name: (lambda m=model, x=x: m.predict_on_batch(x))
            for name, model in deployed.items()
        }
        if batch == 1 and "tflite" in rows["dense"]:
            for name in deployed:
                runners[f"{name} (TFLite)"] = _tflite_runner(
                    rows[name]["tflite"], x
                )
        for name, seconds in _latencies(
            runners, args.repeats, args.calls
        ).items():
            base = name.split(" ")[0]
            suffix = "_tflite" if "TFLite" in name else ""
            rows[base][f"latency_b{batch}{suffix}_ms"] = seconds * 1e3

    columns = [
        "params", "nonzero", "macs", "accuracy", "keras_bytes",
        "sparse_bytes", "tflite_bytes", "latency_b1_ms",
        "latency_b1_tflite_ms", "latency_b1000_ms",
    ]
    print(f"\n{'':<22}" + "".join(f"{n:>12}" for n in deployed))
    for column in columns:
        cells = []
        for name in deployed:
            value = rows[name].get(column)
            if value is None:
                cells.append(f"{'-':>12}")
            elif isinstance(value, float):
                cells.append(f"{value:>12.4f}")
            else:
                cells.append(f"{value:>12}")
        print(f"{column:<22}" + "".join(cells))
    print(f"\ncommand: {provenance.command_line()}")
    print(f"environment: {provenance.environment()}")


if __name__ == "__main__":
    main()
