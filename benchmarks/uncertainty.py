"""Does the Monte-Carlo uncertainty mean something? AUROCs on real MNIST.

For two models, `keras_svd.mc_predict` (T stochastic passes) scores every
image by its mutual information (BALD), predictive entropy, variation ratio
and, as the usual non-Bayesian baseline, 1 - max of the mean probabilities.
Two tasks, each summarised by the area under the ROC curve (AUROC; 0.5 is
chance, 1 a perfect ranking), with the uncertain class as the positive one:

- errors: misclassified MNIST test images (positive) against correctly
  classified ones, all 10,000 test images;
- out of distribution: the 10,000 MNIST test images (negative) against
  Fashion-MNIST test images, MNIST test digits rotated by 90 degrees, and
  images of uniform noise in [0, 1] (positive; `--ood-size` of each, drawn
  with a fixed seed).

The models:

- the PermaDropout CNN of `benchmarks/test_time_dropout.py` (dense 500,
  dropout 0.5 everywhere, 5 epochs), read from its saved `.keras` file, or
  trained with the same recipe when the file is missing;
- a variational LeNet-5-Caffe (`keras_svd.models.lenet5_caffe`, Sparse VD,
  `train_clip=True`), trained here: Adam 1e-3, batch 128, N = 60000,
  `KLAnnealing(LinearWarmup(start, end))`, for `--lenet-epochs` epochs or
  until `--lenet-minutes` of wall time would be exceeded (an epoch is
  started only if the time of the previous one still fits). Its samples
  come from the weight noise (`sample_weights=True`).

The AUROC is computed with NumPy from ranks (the Mann-Whitney U statistic,
ties counted one half). Writes `OUTPUT/uncertainty.json` and
`OUTPUT/uncertainty.md`, and the LeNet-5 to `OUTPUT/lenet5_caffe_svd.keras`.

Usage:

    python benchmarks/uncertainty.py [--data-dir DIR] [--fashion-dir DIR]
        [--samples 50] [--ood-size 5000] [--lenet-epochs 10]
        [--lenet-minutes 15] [--output benchmarks/results/test_time_dropout]
"""

import argparse
import json
import os
import sys
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
CNN_FILE = "cnn500_rate0.5.keras"
LENET_FILE = "lenet5_caffe_svd.keras"
SEED = 1234
SCORES = (
    "mutual_information",
    "predictive_entropy",
    "variation_ratio",
    "one_minus_max_prob",
)


def auroc(negative, positive):
    """Area under the ROC curve for telling `positive` (higher) apart.

    The probability that a random positive scores above a random negative,
    ties counted one half: the Mann-Whitney U statistic divided by
    `len(positive) * len(negative)`, from average ranks.
    """
    negative = np.asarray(negative, np.float64).ravel()
    positive = np.asarray(positive, np.float64).ravel()
    if len(negative) == 0 or len(positive) == 0:
        return float("nan")
    scores = np.concatenate([negative, positive])
    if not np.all(np.isfinite(scores)):
        raise ValueError("auroc: the scores hold NaN or inf")
    order = np.argsort(scores, kind="mergesort")
    _, first, counts = np.unique(
        scores[order], return_index=True, return_counts=True
    )
    ranks = np.empty(len(scores))
    # Ranks first+1 .. first+count share their mean.
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    n_pos, n_neg = len(positive), len(negative)
    u = ranks[n_neg:].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def score_table(mc):
    return {
        "mutual_information": mc.mutual_information,
        "predictive_entropy": mc.predictive_entropy,
        "variation_ratio": mc.variation_ratio,
        "one_minus_max_prob": 1.0 - mc.mean.max(axis=-1),
    }


def ood_sets(x_test, fashion_test, size, rng):
    pick = lambda n: rng.choice(n, size=min(size, n), replace=False)  # noqa
    rotated = np.rot90(x_test[pick(len(x_test))], k=1, axes=(1, 2))
    return {
        "fashion_mnist": fashion_test[pick(len(fashion_test))],
        "rotated_mnist_90": np.ascontiguousarray(rotated),
        "uniform_noise": rng.uniform(0, 1, size=(size,) + x_test.shape[1:])
        .astype(np.float32),
    }


def assess(model, x_test, y_test, ood, samples, sample_weights):
    """AUROCs of one model for errors and for each OOD set."""
    start = time.perf_counter()
    mc = mc_predict(
        model, x_test, samples=samples, sample_weights=sample_weights
    )
    correct = mc.predicted_class == y_test
    scores = score_table(mc)
    result = {
        "mc_mean_accuracy": float(correct.mean()),
        "errors": int((~correct).sum()),
        "misclassified_vs_correct": {
            name: auroc(s[correct], s[~correct]) for name, s in scores.items()
        },
        "mean_mutual_information": {
            "mnist_test": float(scores["mutual_information"].mean())
        },
        "mnist_vs_ood": {},
    }
    for ood_name, images in ood.items():
        ood_mc = mc_predict(
            model, images, samples=samples, sample_weights=sample_weights
        )
        ood_scores = score_table(ood_mc)
        result["mnist_vs_ood"][ood_name] = {
            name: auroc(scores[name], ood_scores[name]) for name in SCORES
        }
        result["mean_mutual_information"][ood_name] = float(
            ood_mc.mutual_information.mean()
        )
    result["mc_predict_seconds"] = time.perf_counter() - start
    return result


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` before an epoch that would end past the budget."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.epochs_run = 0
        self._epoch_start = self.start

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.epochs_run = epoch + 1
        if (now - self.start) + (now - self._epoch_start) > self.seconds:
            self.model.stop_training = True


def train_lenet(x_train, y_train, epochs, minutes, warmup, batch_size):
    keras.utils.set_random_seed(SEED)
    model = keras_svd.models.lenet5_caffe(variational=True, train_clip=True)
    keras_svd.set_num_train_examples(model, len(x_train))
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    budget = TimeBudget(60.0 * minutes)
    annealing = keras_svd.callbacks.KLAnnealing(
        keras_svd.schedules.LinearWarmup(*warmup)
    )
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=2,
        callbacks=[annealing, budget],
    )
    report = keras_svd.measure_sparsity(model)
    info = {
        "epochs_run": budget.epochs_run,
        "epochs_planned": epochs,
        "train_seconds": time.perf_counter() - start,
        "kl_warmup": {"start": warmup[0], "end": warmup[1]},
        "final_train_loss": float(history.history["loss"][-1]),
        "final_kl_weight": float(history.history["kl_weight"][-1])
        if "kl_weight" in history.history
        else None,
        "compression": report["compression"],
        "sparsity": {row["layer"]: row["sparsity"] for row in report["rows"]},
    }
    return model, info


def markdown(results, samples, ood_size):
    lines = [
        f"AUROC (T = {samples}; MNIST test 10,000 images; OOD sets of "
        f"{ood_size} images). Scores: MI = mutual information, H = "
        "predictive entropy, VR = variation ratio, 1-max = one minus the "
        "largest mean probability.",
        "",
        "| model | task | MI | H | VR | 1-max |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for model_name, result in results.items():
        rows = [
            ("misclassified vs correct", result["misclassified_vs_correct"])
        ]
        rows += [
            (f"MNIST vs {name}", values)
            for name, values in result["mnist_vs_ood"].items()
        ]
        for task, values in rows:
            lines.append(
                f"| {model_name} | {task} | "
                + " | ".join(f"{values[s]:.3f}" for s in SCORES)
                + " |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    parser.add_argument("--fashion-dir", default=None, help="Fashion-MNIST")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--ood-size", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lenet-epochs", type=int, default=10)
    parser.add_argument("--lenet-minutes", type=float, default=15.0)
    parser.add_argument(
        "--kl-warmup", type=int, nargs=2, default=(1, 5),
        metavar=("START", "END"), help="LinearWarmup(start, end) in epochs",
    )
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument("--train-size", type=int, default=None, help="smoke")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = datasets.load_numpy(
        "mnist", source_dir=args.data_dir or datasets.default_mnist_dir()
    )
    _, (fashion_test, _) = datasets.load_numpy(
        "fashion_mnist",
        source_dir=args.fashion_dir or datasets.default_fashion_mnist_dir(),
    )
    x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    rng = np.random.default_rng(0)
    ood = ood_sets(x_test, fashion_test, args.ood_size, rng)
    results, training = {}, {}

    cnn_path = os.path.join(args.output, CNN_FILE)
    if os.path.exists(cnn_path):
        cnn = keras.models.load_model(cnn_path)
        training["permadropout_cnn"] = {
            "loaded_from": os.path.relpath(cnn_path)
        }
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import test_time_dropout as ttd  # noqa: E402

        cnn, seconds = ttd.train_cnn(500, 0.5, x_train, y_train, 5, 128)
        training["permadropout_cnn"] = {"trained_here_seconds": seconds}
    print("== PermaDropout CNN", flush=True)
    results["permadropout_cnn"] = assess(
        cnn, x_test, y_test, ood, args.samples, sample_weights=False
    )
    print(json.dumps(results["permadropout_cnn"], indent=1), flush=True)

    print("== variational LeNet-5-Caffe", flush=True)
    lenet, training["lenet5_caffe_svd"] = train_lenet(
        x_train, y_train, args.lenet_epochs, args.lenet_minutes,
        tuple(args.kl_warmup), args.batch_size,
    )
    lenet.save(os.path.join(args.output, LENET_FILE))
    deterministic = lenet.predict(x_test, batch_size=256, verbose=0)
    training["lenet5_caffe_svd"]["deterministic_test_accuracy"] = float(
        np.mean(deterministic.argmax(-1) == y_test)
    )
    results["lenet5_caffe_svd"] = assess(
        lenet, x_test, y_test, ood, args.samples, sample_weights=True
    )
    print(json.dumps(training["lenet5_caffe_svd"], indent=1), flush=True)
    print(json.dumps(results["lenet5_caffe_svd"], indent=1), flush=True)

    command = provenance.command_line()
    record = {
        "command": command,
        **provenance.environment(),
        "samples": args.samples,
        "ood_size": args.ood_size,
        "ood_sets": {
            "fashion_mnist": "Fashion-MNIST test images, random subset",
            "rotated_mnist_90": "MNIST test images rotated 90 degrees "
            "(np.rot90), random subset",
            "uniform_noise": "i.i.d. uniform [0, 1] pixels",
        },
        "training": training,
        "results": results,
    }
    text = markdown(results, args.samples, args.ood_size)
    with open(os.path.join(args.output, "uncertainty.json"), "w") as f:
        json.dump(record, f, indent=2)
    with open(os.path.join(args.output, "uncertainty.md"), "w") as f:
        f.write(text + "\n")
    print("command:", command)
    print(text)


if __name__ == "__main__":
    main()
