"""What export gains: dense vs stripped vs compact LeNets on MNIST.

For each model (`--models`: LeNet-300-100 and/or LeNet-5-Caffe) takes a
trained variational model: `--trained DIR/<model>/model.keras` as written by
`benchmarks/reproduce_mnist.py` (the paper's recipe), or, when that file is
missing, trains one there first with the paper's recipe for `--epochs`
epochs. Then compares three deployable models:

- dense: the plain architecture (`variational=False`), untrained (for sizes
  and speed only: a dense kernel costs the same whatever its values);
- stripped: `keras_svd.strip_variational(model, perma_dropout="identity")`,
  plain layers with the pruned kernels (zeros stored);
- compact: `keras_svd.compact(stripped)`, the dead units removed.

For each: parameters (and nonzero ones), multiply-adds per example, test
accuracy, the `.keras` file size, the `keras_svd.save_sparse` file size,
the TFLite flatbuffer size (TensorFlow backend), and the inference latency
of `predict_on_batch` at batch 1 and 1000 (`--repeats` interleaved rounds of
`--calls` calls per model, after a warm-up; the median per call), and of
the TFLite interpreter at both batch sizes. Prints the figures and the command, and
writes them to OUTPUT/<model>.json.

    python benchmarks/reproduce_mnist.py --models lenet-300-100 --epochs 200 \
        --output benchmarks/results/200-epochs --no-backup
    python benchmarks/export.py --trained benchmarks/results/200-epochs
"""

import argparse
import json
import os
import pathlib
import tempfile
import time

import keras
import numpy as np

import keras_svd
import provenance
import reproduce_mnist
from keras_svd import models

BUILDERS = {
    "lenet-300-100": models.lenet_300_100,
    "lenet5-caffe": models.lenet5_caffe,
}


def _trained(model_name, folder, epochs, data_dir):
    path = pathlib.Path(folder) / model_name / "model.keras"
    if not path.exists():
        reproduce_mnist.main([
            "--models", model_name, "--epochs", str(epochs),
            "--output", str(folder), "--no-backup",
            *(["--data-dir", data_dir] if data_dir else []),
        ])
    result = json.loads((path.parent / "result.json").read_text())
    return keras.saving.load_model(path), result


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
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()

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


def _compare(model_name, trained, x_test, y_test, args):
    """The figures of the dense, stripped and compact models."""
    dense = BUILDERS[model_name](variational=False)
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
        if "tflite" in rows["dense"]:
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
    for row in rows.values():
        row.pop("tflite", None)
    return rows


COLUMNS = [
    "params", "nonzero", "macs", "accuracy", "keras_bytes", "sparse_bytes",
    "tflite_bytes", "latency_b1_ms", "latency_b1_tflite_ms",
    "latency_b1000_ms", "latency_b1000_tflite_ms",
]


def _print_table(rows):
    print(f"\n{'':<22}" + "".join(f"{n:>12}" for n in rows))
    for column in COLUMNS:
        cells = []
        for name in rows:
            value = rows[name].get(column)
            if value is None:
                cells.append(f"{'-':>12}")
            elif isinstance(value, float):
                cells.append(f"{value:>12.4f}")
            else:
                cells.append(f"{value:>12}")
        print(f"{column:<22}" + "".join(cells))
    dense, stripped, small = rows["dense"], rows["stripped"], rows["compact"]
    print(
        "compact / dense latency at batch 1000: "
        f"{small['latency_b1000_ms'] / dense['latency_b1000_ms']:.3f} "
        "(goal <= 0.25)" + (
            f", with TFLite {small['latency_b1000_tflite_ms'] / dense['latency_b1000_tflite_ms']:.3f}"
            if "latency_b1000_tflite_ms" in small else ""
        ) + "; sparse file / stripped .keras: "
        f"1/{stripped['keras_bytes'] / stripped['sparse_bytes']:.0f} "
        "(goal <= 1/50)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=sorted(BUILDERS), choices=sorted(BUILDERS)
    )
    parser.add_argument(
        "--trained", default="benchmarks/results/200-epochs",
        help="folder of <model>/model.keras (reproduce_mnist.py's --output)",
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--epochs", type=int, default=200,
        help="epochs of the paper's recipe when a model must be trained",
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--output", default="benchmarks/results/export")
    args = parser.parse_args()

    _, (x_test, y_test) = keras_svd.datasets.load_numpy("mnist", args.data_dir)
    for model_name in args.models:
        trained, result = _trained(
            model_name, args.trained, args.epochs, args.data_dir
        )
        print(f"\n== {model_name}: {result['epochs']} epochs of the "
              f"{result.get('recipe', result.get('protocol'))} recipe, "
              f"test error {result['test_error_percent']:.2f}%")
        print(keras_svd.sparsity_table(keras_svd.measure_sparsity(trained)))
        rows = _compare(model_name, trained, x_test, y_test, args)
        _print_table(rows)
        out = pathlib.Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        record = {
            "model": model_name,
            "trained": {
                key: result.get(key)
                for key in ("epochs", "recipe", "protocol",
                            "test_error_percent", "compression", "command")
            },
            "rows": rows,
            "command": provenance.command_line(),
            "environment": provenance.environment(),
        }
        (out / f"{model_name}.json").write_text(
            json.dumps(record, indent=2) + "\n"
        )
    print(f"\ncommand: {provenance.command_line()}")
    print(f"environment: {provenance.environment()}")


if __name__ == "__main__":
    main()
