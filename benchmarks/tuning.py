"""A keras-tuner search of the accuracy / compression trade-off on MNIST.

Runs `keras_svd.tuner.run_search` (RandomSearch, objective "tradeoff":
`val_accuracy + 0.1 * log10(compression)`) over LeNet-300-100-like MLPs
(family "mlp": widths, learning rate, KL warm-up, pruning threshold,
`log_sigma2_init`, `train_clip`, dropout before the logits) on real MNIST,
with short trials, and draws the Pareto front of the trials beside the
paper's LeNet-300-100 point and the package's own 200-epoch result:

    python benchmarks/tuning.py --max-trials 12 --epochs 5

Training set: the first 55,000 training images; validation set (what the
trials are scored and selected on): the last 5,000. The test set (10,000)
is not used for the search; after it, the best-epoch checkpoint of each
Pareto-optimal trial (the weights keras-tuner saved, reloaded with
`tuner.load_model`) is evaluated on it, pruned and deterministic, for
information only.

Outputs in OUTPUT (benchmarks/results/tuning by default): trials.csv
(every trial), pareto_front.csv (the Pareto-optimal ones, with test error),
pareto_front.png, table.md and result.json. The keras-tuner folder of the
search goes to --search-dir (a temporary folder by default, outside the
repository).
"""

import argparse
import csv
import datetime
import json
import math
import os
import pathlib
import tempfile
import time

import keras
import keras_tuner

import keras_svd
import keras_svd.tuner
from keras_svd import datasets
from keras_svd.recipes import PAPER_RESULTS
import provenance

# The package's own 200-epoch LeNet-300-100 run (benchmarks/RESULTS.md,
# benchmarks/results/lenet-300-100/result.json): test error and compression.
OURS_200_EPOCHS = {"test_error_percent": 1.86, "compression": 102.5}
HP_COLUMNS = (
    "units_1",
    "units_2",
    "learning_rate",
    "kl_warmup_epochs",
    "threshold",
    "log_sigma2_init",
    "train_clip",
    "dropout_rate",
)


def kept_weights_of_units(units_1, units_2, classes=10, inputs=784):
    return inputs * units_1 + units_1 * units_2 + units_2 * classes


def trial_row(point):
    hp = point["hyperparameters"]
    row = {
        "trial_id": point["trial_id"],
        "val_accuracy": point["val_accuracy"],
        "val_error_percent": 100.0 * (1.0 - point["val_accuracy"]),
        "compression": point["compression"],
        "kept_weights": point["kept_weights"],
        "weights": kept_weights_of_units(hp["units_1"], hp["units_2"]),
        "score": point["score"],
        "pareto_optimal": point["pareto_optimal"],
    }
    for name in HP_COLUMNS:
        row[name] = hp.get(name)
    return row


def write_csv(path, rows, columns):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def fmt_compression(value):
    return "inf" if not math.isfinite(value) else f"{value:.1f}x"


def markdown_table(rows, paper):
    lines = [
        "| trial | val acc | val error % | test error % | compression | "
        "kept / weights | units | lr | KL warm-up | threshold | "
        "log sigma2 init | clip | dropout | tradeoff score | Pareto |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | "
        "---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        test = r.get("test_error_percent")
        lines.append(
            f"| {r['trial_id']} | {r['val_accuracy']:.4f} | "
            f"{r['val_error_percent']:.2f} | "
            f"{'' if test is None else f'{test:.2f}'} | "
            f"{fmt_compression(r['compression'])} | "
            f"{r['kept_weights']:,} / {r['weights']:,} | "
            f"{r['units_1']}-{r['units_2']} | {r['learning_rate']:.2g} | "
            f"{r['kl_warmup_epochs']} | {r['threshold']:g} | "
            f"{r['log_sigma2_init']:g} | {r['train_clip']} | "
            f"{r['dropout_rate']:g} | {r['score']:.4f} | "
            f"{'**yes**' if r['pareto_optimal'] else 'no'} |"
        )
    lines.append(
        f"| paper, 200 epochs | | | {paper['test_error_percent']:.2f} | "
        f"{paper['compression']}x | | 300-100 | 1e-3 | 5-20 | 3 | | | | | |"
    )
    lines.append(
        f"| ours, 200 epochs | | | "
        f"{OURS_200_EPOCHS['test_error_percent']:.2f} | "
        f"{OURS_200_EPOCHS['compression']}x | 2,597 / 266,200 | 300-100 | "
        "1e-3 | 5-20 | 3 | | True | 0 | | |"
    )
    return "\n".join(lines)


def plot(points, paper, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(7, 4.5))
    keras_svd.tuner.plot_pareto_front(points, ax=ax)
    # The references are test accuracies after 200 epochs; the trials'
    # accuracies are validation accuracies after a few epochs.
    ax.scatter(
        [paper["compression"]],
        [1.0 - paper["test_error_percent"] / 100.0],
        marker="*",
        s=160,
        color="tab:blue",
        label=f"paper, 200 epochs (test): {paper['test_error_percent']}% "
        f"at {paper['compression']}x",
        zorder=3,
    )
    ax.scatter(
        [OURS_200_EPOCHS["compression"]],
        [1.0 - OURS_200_EPOCHS["test_error_percent"] / 100.0],
        marker="D",
        s=70,
        color="tab:green",
        label=f"keras_svd, 200 epochs (test): "
        f"{OURS_200_EPOCHS['test_error_percent']}% at "
        f"{OURS_200_EPOCHS['compression']}x",
        zorder=3,
    )
    ax.set_ylabel("accuracy (trials: validation; references: test)")
    ax.set_title("LeNet-300-100-like MLPs on MNIST: short trials, 200 epochs")
    ax.legend(fontsize=7, loc="lower right")
    ax.figure.savefig(path, bbox_inches="tight", dpi=120)
    plt.close(ax.figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--max-warmup", type=int, default=2, help="the KL warm-up is "
        "searched in 0..MAX_WARMUP epochs (keep it below --epochs: the "
        "warm-up epochs are not scored)"
    )
    parser.add_argument("--train-size", type=int, default=55000)
    parser.add_argument("--val-size", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--tradeoff-weight", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir", default=None, help="MNIST IDX folder (default: "
        "$KERAS_SVD_MNIST_DIR or ../shared/data/mnist)"
    )
    parser.add_argument("--output", default="benchmarks/results/tuning")
    parser.add_argument(
        "--search-dir", default=None, help="keras-tuner folder (default: a "
        "new temporary folder)"
    )
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    command = provenance.command_line()
    started = datetime.datetime.now(datetime.timezone.utc)
    data_dir = args.data_dir or datasets.default_mnist_dir()
    (x_all, y_all), (x_test, y_test) = datasets.load_numpy(
        "mnist", source_dir=data_dir
    )
    if args.train_size + args.val_size > len(x_all):
        parser.error("--train-size + --val-size exceed the training set")
    x_train, y_train = x_all[: args.train_size], y_all[: args.train_size]
    x_val, y_val = x_all[-args.val_size :], y_all[-args.val_size :]
    search_dir = args.search_dir or tempfile.mkdtemp(
        prefix="keras-svd-tuning-"
    )
    out = pathlib.Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    space = keras_tuner.HyperParameters()
    space.Int(
        "kl_warmup_epochs", 0, args.max_warmup,
        default=min(2, args.max_warmup),
    )

    keras.utils.set_random_seed(args.seed)
    start = time.perf_counter()
    result = keras_svd.tuner.run_search(
        x_train,
        y_train,
        (x_val, y_val),
        family="mlp",
        objective="tradeoff",
        tuner="random",
        max_trials=args.max_trials,
        epochs=args.epochs,
        batch_size=args.batch_size,
        directory=search_dir,
        project_name="mlp",
        tradeoff_weight=args.tradeoff_weight,
        hyperparameters=space,
        overwrite=True,
        seed=args.seed,
        verbose=args.verbose,
    )
    search_seconds = time.perf_counter() - start
    tuner = result["tuner"]
    points = result["pareto_front"]
    rows = [trial_row(p) for p in points]

    # Test error of the front only, after the search (not used to select):
    # each trial's best-epoch checkpoint, pruned and deterministic.
    start = time.perf_counter()
    for row in rows:
        if not row["pareto_optimal"]:
            continue
        model = tuner.load_model(tuner.oracle.get_trial(row["trial_id"]))
        logs = model.evaluate(
            x_test, y_test, batch_size=1000, verbose=0, return_dict=True
        )
        row["test_error_percent"] = 100.0 * (1.0 - float(logs["accuracy"]))
        report = keras_svd.measure_sparsity(model)
        row["test_compression_check"] = report["compression"]
    test_seconds = time.perf_counter() - start

    paper = PAPER_RESULTS["lenet-300-100"]
    columns = [
        "trial_id", "val_accuracy", "val_error_percent", "compression",
        "kept_weights", "weights", "score", "pareto_optimal", *HP_COLUMNS,
    ]
    write_csv(out / "trials.csv", rows, columns)
    front = [r for r in rows if r["pareto_optimal"]]
    write_csv(
        out / "pareto_front.csv",
        front,
        columns + ["test_error_percent", "test_compression_check"],
    )
    plot(points, paper, out / "pareto_front.png")

    env = provenance.environment()
    total_seconds = (
        datetime.datetime.now(datetime.timezone.utc) - started
    ).total_seconds()
    settings = (
        f"{args.max_trials} trials (RandomSearch, seed {args.seed}, objective "
        f"val_tradeoff = val_accuracy + {args.tradeoff_weight:g} * "
        f"log10(compression)), {args.epochs} epochs each, batch "
        f"{args.batch_size}, KL warm-up searched in 0..{args.max_warmup} "
        f"epochs, {len(x_train):,} training / {len(x_val):,} validation "
        "images (the first and last of MNIST's training set)"
    )
    table = markdown_table(rows, paper)
    text = (
        f"{table}\n\n"
        f"{settings}. Validation accuracy and compression at each trial's "
        "best epoch (the one keras-tuner scored); test error only for the "
        "Pareto-optimal trials, from their best-epoch checkpoints, after "
        "the search (the test set played no part in it). The reference "
        "rows are 200-epoch test results (paper protocol).\n\n"
        f"Search {search_seconds / 60:.1f} min, whole run "
        f"{total_seconds / 60:.1f} min on {env['machine']} "
        f"({os.cpu_count()} cores, {env['backend']} backend, Keras "
        f"{env['keras']}, keras-tuner {keras_tuner.__version__}), started "
        f"{started.isoformat(timespec='seconds')}.\n"
        f"Command: `{command}`\n"
    )
    (out / "table.md").write_text(text)
    (out / "result.json").write_text(
        json.dumps(
            {
                "command": command,
                "environment": env,
                "keras_tuner": keras_tuner.__version__,
                "keras_svd_version": keras_svd.__version__,
                "started_utc": started.isoformat(timespec="seconds"),
                "search_seconds": search_seconds,
                "test_seconds": test_seconds,
                "total_seconds": total_seconds,
                "settings": vars(args),
                "best_hyperparameters": result["best_hyperparameters"],
                "trials": rows,
                "references": {
                    "paper": {
                        "test_error_percent": paper["test_error_percent"],
                        "compression": paper["compression"],
                    },
                    "ours_200_epochs": OURS_200_EPOCHS,
                },
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(text)
    print(f"Search folder (not in the repository): {search_dir}")


if __name__ == "__main__":
    main()
