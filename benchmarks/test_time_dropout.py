"""Dropout kept on at test time: the seed's MNIST experiments, reproduced.

Three CNNs (`keras_svd.models.mc_dropout_cnn`: conv 20@5x5 -
PermaDropout 0.5 - max pool - conv 50@5x5 - PermaDropout 0.5 - max pool -
dense N - PermaDropout r - dense 10 logits, ReLU) are trained on the full
real MNIST training set and evaluated on its 10,000 test images:

1. N = 500, r = 0.5 (the seed reported a test loss of 0.0405 and an
   accuracy of 98.69%);
2. N = 500, r = 0.9: the accuracy of the Monte-Carlo mean barely moves;
3. N = 128, r = 0.9: single stochastic passes start failing, the mean holds.

For each: `model.evaluate` (one stochastic pass per image, as the seed's
figures presumably were), the accuracy and NLL of the mean of T stochastic
passes (`keras_svd.mc_predict`), the accuracy of the T single passes (mean,
min, max), and, for reference, the same weights with dropout off (the usual
weight-scaling approximation). Then (4) a plot of the spread of the class
probabilities over the T samples for a few test images.

Training: Adam (learning rate 1e-3), batch 128, 5 epochs, cross-entropy on
logits, shuffled, `keras.utils.set_random_seed(SEED)` before each model.
Writes `OUTPUT/results.json`, `OUTPUT/table.md`, `OUTPUT/spread.png` and the
first model to `OUTPUT/cnn500_rate0.5.keras` (read by
`benchmarks/uncertainty.py`). Needs matplotlib for the plot only.

Usage:

    python benchmarks/test_time_dropout.py [--data-dir DIR] [--epochs 5]
        [--samples 50] [--output benchmarks/results/test_time_dropout]
"""

import argparse
import json
import os
import platform
import time

import keras
import numpy as np

import keras_svd
from keras_svd import datasets
from keras_svd.mc_predict import mc_predict
import provenance

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(
    REPO_ROOT, "benchmarks", "results", "test_time_dropout"
)
SEED = 1234
# (name, hidden_units, hidden_rate, the seed's figures or None)
EXPERIMENTS = (
    ("cnn500_rate0.5", 500, 0.5, {"loss": 0.0405, "accuracy": 0.9869}),
    ("cnn500_rate0.9", 500, 0.9, None),
    ("cnn128_rate0.9", 128, 0.9, None),
)
MODEL_FILE = "cnn500_rate0.5.keras"


def build_cnn(hidden_units, hidden_rate, conv_rate=0.5, seed=SEED):
    model = keras_svd.models.mc_dropout_cnn(
        hidden_units=hidden_units,
        conv_rate=conv_rate,
        hidden_rate=hidden_rate,
        seed=seed,
    )
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def train_cnn(hidden_units, hidden_rate, x_train, y_train, epochs, batch_size):
    """Trains one CNN with the recipe of this benchmark; returns it, seconds."""
    keras.utils.set_random_seed(SEED)
    model = build_cnn(hidden_units, hidden_rate)
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=2,
    )
    return model, time.perf_counter() - start


def nll(probs, labels):
    picked = probs[np.arange(len(labels)), labels].astype(np.float64)
    return float(-np.mean(np.log(np.maximum(picked, 1e-12))))


def evaluate(model, hidden_units, hidden_rate, x_test, y_test, samples):
    """The figures of one trained CNN; also returns the MC prediction."""
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    start = time.perf_counter()
    mc = mc_predict(model, x_test, samples=samples, return_samples=True)
    mc_seconds = time.perf_counter() - start
    single = mc.samples.argmax(-1) == y_test[None]  # (T, n)
    single_accuracy = single.mean(axis=1)
    single_nll = [nll(p, y_test) for p in mc.samples]
    # Dropout off: the same weights in the same network with rates 0.
    deterministic = build_cnn(hidden_units, 0.0, conv_rate=0.0)
    deterministic.set_weights(model.get_weights())
    logits = deterministic.predict(x_test, batch_size=256, verbose=0)
    mean_correct = mc.predicted_class == y_test
    figures = {
        "evaluate_one_pass_loss": float(loss),
        "evaluate_one_pass_accuracy": float(accuracy),
        "mc_mean_accuracy": float(mean_correct.mean()),
        "mc_mean_nll": nll(mc.mean, y_test),
        "single_pass_accuracy_mean": float(single_accuracy.mean()),
        "single_pass_accuracy_std": float(single_accuracy.std()),
        "single_pass_accuracy_min": float(single_accuracy.min()),
        "single_pass_accuracy_max": float(single_accuracy.max()),
        "single_pass_nll_mean": float(np.mean(single_nll)),
        "dropout_off_accuracy": float(
            np.mean(logits.argmax(-1) == y_test)
        ),
        # Images that at least 10% of the single passes get wrong.
        "images_wrong_in_10pct_of_passes": int(
            np.sum((1 - single.mean(axis=0)) >= 0.1)
        ),
        "mean_variation_ratio": float(mc.variation_ratio.mean()),
        "mean_mutual_information": float(mc.mutual_information.mean()),
        "mc_predict_seconds": mc_seconds,
    }
    return figures, mc


def table(results, samples):
    lines = [
        "| model | seed: loss / acc | evaluate (1 pass): loss / acc | "
        f"MC mean of {samples}: NLL / acc | single passes: acc mean "
        "(min-max) | dropout off: acc |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in results.items():
        f = result["figures"]
        seed = result["seed"]
        seed_text = (
            f"{seed['loss']:.4f} / {100 * seed['accuracy']:.2f}%"
            if seed
            else "-"
        )
        lines.append(
            f"| {name} | {seed_text} | {f['evaluate_one_pass_loss']:.4f} / "
            f"{100 * f['evaluate_one_pass_accuracy']:.2f}% | "
            f"{f['mc_mean_nll']:.4f} / {100 * f['mc_mean_accuracy']:.2f}% | "
            f"{100 * f['single_pass_accuracy_mean']:.2f}% "
            f"({100 * f['single_pass_accuracy_min']:.2f}-"
            f"{100 * f['single_pass_accuracy_max']:.2f}%) | "
            f"{100 * f['dropout_off_accuracy']:.2f}% |"
        )
    return "\n".join(lines)


def pick_images(mc, y_test, count=6):
    """Two confident, two most uncertain (by MI) and two misclassified."""
    order = np.argsort(mc.mutual_information)
    wrong = np.flatnonzero(mc.predicted_class != y_test)
    wrong = wrong[np.argsort(-mc.mutual_information[wrong])]
    picked = [int(order[0]), int(order[1])]
    picked += [int(i) for i in order[::-1] if i not in wrong][:2]
    picked += [int(i) for i in wrong[:2]]
    return picked[:count]


def plot_spread(path, images, labels, predictions, picked):
    """Rows: the images, then one row per model; dots are the samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 1 + len(predictions)
    fig, axes = plt.subplots(
        rows, len(picked), figsize=(2.6 * len(picked), 2.1 * rows),
        squeeze=False,
    )
    rng = np.random.default_rng(0)
    for column, index in enumerate(picked):
        axes[0, column].imshow(images[index, ..., 0], cmap="gray")
        axes[0, column].set_title(f"test #{index}, label {labels[index]}")
        axes[0, column].axis("off")
        for row, (name, mc) in enumerate(predictions.items(), start=1):
            ax = axes[row, column]
            probs = mc.samples[:, index, :]  # (T, classes)
            classes = np.arange(probs.shape[1])
            jitter = rng.uniform(-0.2, 0.2, size=probs.shape)
            ax.scatter(
                classes[None] + jitter, probs, s=4, alpha=0.35, color="C0"
            )
            ax.scatter(classes, mc.mean[index], marker="_", s=120, color="C3")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xticks(classes)
            ax.tick_params(labelsize=6)
            ax.set_title(
                f"{name}: MI {mc.mutual_information[index]:.2f}", fontsize=7
            )
            if column == 0:
                ax.set_ylabel("p(class)", fontsize=7)
    fig.suptitle(
        "Class probabilities of the stochastic passes (blue dots) and their "
        "mean (red)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--no-plot", action="store_true", help="skip the matplotlib figure"
    )
    parser.add_argument(
        "--train-size", type=int, default=None, help="smoke runs only"
    )
    parser.add_argument(
        "--test-size", type=int, default=None, help="smoke runs only"
    )
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    os.makedirs(args.output, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = datasets.load_numpy(
        "mnist", source_dir=args.data_dir or datasets.default_mnist_dir()
    )
    x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    x_test, y_test = x_test[: args.test_size], y_test[: args.test_size]
    results = {}
    predictions = {}
    for name, units, rate, seed_figures in EXPERIMENTS:
        print(f"== {name}: dense {units}, hidden dropout {rate}", flush=True)
        model, train_seconds = train_cnn(
            units, rate, x_train, y_train, args.epochs, args.batch_size
        )
        if name == EXPERIMENTS[0][0]:
            model.save(os.path.join(args.output, MODEL_FILE))
        figures, mc = evaluate(model, units, rate, x_test, y_test, args.samples)
        figures["train_seconds"] = train_seconds
        results[name] = {
            "hidden_units": units,
            "hidden_rate": rate,
            "conv_rate": 0.5,
            "seed": seed_figures,
            "figures": figures,
        }
        predictions[name] = mc
        print(json.dumps(figures, indent=1), flush=True)
    text = table(results, args.samples)
    if not args.no_plot:
        picked = pick_images(predictions[EXPERIMENTS[-1][0]], y_test)
        shown = {
            n: predictions[n] for n in (EXPERIMENTS[0][0], EXPERIMENTS[-1][0])
        }
        plot_spread(
            os.path.join(args.output, "spread.png"),
            x_test, y_test, shown, picked,
        )
    record = {
        "command": provenance.command_line(),
        **provenance.environment(),
        "python": platform.python_version(),
        "training": {
            "train_examples": int(len(x_train)),
            "test_examples": int(len(x_test)),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": "Adam(learning_rate=1e-3)",
            "loss": "SparseCategoricalCrossentropy(from_logits=True)",
            "random_seed": SEED,
        },
        "samples": args.samples,
        "experiments": results,
    }
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(record, f, indent=2)
    with open(os.path.join(args.output, "table.md"), "w") as f:
        f.write(text + "\n")
    print("command:", record["command"])
    print(
        f"backend {record['backend']}, keras {record['keras']}, "
        f"{args.epochs} epochs, batch {args.batch_size}, T = {args.samples}"
    )
    print(text)


if __name__ == "__main__":
    main()
