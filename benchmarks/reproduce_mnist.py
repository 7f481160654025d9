"""Reproduces the MNIST part of Table 1 of Molchanov, Ashukha & Vetrov (2017).

Trains LeNet-300-100 and/or LeNet-5-Caffe with the paper's recipe (see
`keras_svd.recipes`) on real MNIST read from local IDX files, and prints the
test error, per-layer sparsity and compression side by side with the paper's
numbers. Runs on any Keras backend (the data are NumPy arrays):

    python benchmarks/reproduce_mnist.py --models lenet-300-100 --epochs 200
    KERAS_BACKEND=jax python benchmarks/reproduce_mnist.py --models lenet5-caffe

Each model's result goes to OUTPUT/<model>/result.json (plus history.csv and
model.keras), and the side-by-side table to OUTPUT/<model>/table.md. An
interrupted run resumes from its last finished epoch when started again with
the same arguments (OUTPUT/<model>/backup; `train_seconds` then counts the
last leg only).
"""

import argparse
import datetime
import json
import os
import pathlib
import platform

import keras

import keras_svd
from keras_svd import datasets
from keras_svd import training
from keras_svd.recipes import PAPER_RESULTS
from keras_svd.recipes import get_recipe
import provenance


def side_by_side(result):
    paper = PAPER_RESULTS[result["model"]]
    lines = [
        f"| {result['model']} | ours | paper |",
        "| --- | ---: | ---: |",
        f"| test error % | {result['test_error_percent']:.2f} | "
        f"{paper['test_error_percent']:.2f} |",
    ]
    for row, ref in zip(result["layers"], paper["sparsity_percent"]):
        lines.append(
            f"| sparsity % {row['layer']} ({row['weights']:,} weights) | "
            f"{row['sparsity_percent']:.1f} | {ref:g} |"
        )
    lines.append(
        f"| compression | {result['compression']:.1f}x | {paper['compression']}x |"
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["lenet-300-100", "lenet5-caffe"],
        choices=sorted(PAPER_RESULTS),
    )
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument(
        "--data-dir", default=None, help="MNIST IDX folder (default: "
        "$KERAS_SVD_MNIST_DIR or ../shared/data/mnist)"
    )
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    parser.add_argument(
        "--no-backup", action="store_true", help="do not keep a "
        "BackupAndRestore folder (OUTPUT/<model>/backup); by default an "
        "interrupted run resumes from its last finished epoch when started "
        "again with the same arguments"
    )
    args = parser.parse_args(argv)

    command = provenance.command_line()
    data_dir = args.data_dir or datasets.default_mnist_dir()
    (x_train, y_train), (x_test, y_test) = datasets.load_numpy(
        "mnist", source_dir=data_dir
    )
    for model_name in args.models:
        keras.utils.set_random_seed(args.seed)
        recipe = get_recipe("paper", model_name, epochs=args.epochs)
        model = training.build_model(
            model_name, x_train.shape[1:], 10, train_clip=recipe.train_clip
        )
        out = pathlib.Path(args.output) / model_name
        started = datetime.datetime.now(datetime.timezone.utc)
        result = training.run_recipe(
            model,
            recipe,
            (x_train, y_train),
            (x_test, y_test),
            num_train_examples=len(x_train),
            dataset_name="mnist",
            model_name=model_name,
            output=str(out),
            verbose=args.verbose,
            backup_dir=None if args.no_backup else str(out / "backup"),
        )
        result.update(
            {
                "command": command,
                "started_utc": started.isoformat(timespec="seconds"),
                "keras_version": keras.__version__,
                "keras_svd_version": keras_svd.__version__,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "seed": args.seed,
            }
        )
        (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        table = side_by_side(result)
        (out / "table.md").write_text(
            f"{table}\n\n{recipe.epochs} epochs, "
            f"{result['train_seconds'] / 60:.1f} min on {result['machine']} "
            f"({result['backend']} backend), "
            f"started {result['started_utc']}.\nCommand: `{command}`\n"
        )
        print(training.result_table(result))
        print(table)
        print(f"Command: {command}")


if __name__ == "__main__":
    main()
