"""The `keras-svd` command's launcher: arguments first, TensorFlow later.

Importing the `keras_svd` package imports Keras and so TensorFlow (seconds
of CPU and a few start-up log lines). This module sits outside the package
so that `keras-svd --help` and bad arguments answer at once; a command that
runs imports `keras_svd.cli`, with TensorFlow's start-up log kept off the
terminal unless `--verbose 2`.
"""

import argparse
import contextlib
import os
import sys

# The zoo's names (`keras_svd.models.MODELS`) and the recipes'
# (`keras_svd.recipes.RECIPE_NAMES`), repeated here so that parsing needs no
# import of Keras; tests/test_cli.py checks that they agree.
MODEL_NAMES = ("lenet-300-100", "lenet5-caffe", "vgg-like")
RECIPE_NAMES = ("paper", "quick")
DATASETS = ("mnist", "fashion_mnist", "fashion-mnist", "cifar10")
# `keras_svd.tuner.run_search`'s choices.
TUNERS = ("random", "hyperband", "bayesian")
# `keras_svd.distribution.DISTRIBUTIONS`.
DISTRIBUTIONS = ("none", "mirrored", "data-parallel")
OBJECTIVES = ("tradeoff", "constrained_accuracy", "compression")

__all__ = ["main"]


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer, got {text!r}"
        )
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(
            f"must be an integer >= 0, got {text!r}"
        )
    return value


def _host_port(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"must be HOST:PORT (process 0's address), got {text!r}"
        )
    return text


def parser():
    """The argument parser of the `keras-svd` command."""
    main_parser = argparse.ArgumentParser(
        prog="keras-svd",
        description="Sparse Variational Dropout for Keras: train the "
        "paper's networks and report their sparsity.",
    )
    sub = main_parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train",
        help="train a variational model and print the paper's table",
        description="Train a variational model of the zoo with the paper's "
        "recipe (default) or a quick one; print the result table and write "
        "result.json, history.csv and model.keras into --output. The logs "
        "per epoch: loss (the NLL plus beta * KL / N), kl (KL / N, summed "
        "over the layers, before beta), kl_loss (beta * KL / N, the part of "
        "the loss the KL adds), kl_weight (beta), sparsity and compression.",
    )
    train.add_argument("model", choices=MODEL_NAMES, metavar="MODEL",
                       help="one of: " + ", ".join(MODEL_NAMES))
    train.add_argument("--dataset", default="mnist", choices=DATASETS)
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help="override the recipe's epochs (200 / 3)")
    train.add_argument("--batch-size", type=_positive_int, default=None,
                       help="override the recipe's batch size (100)")
    train.add_argument("--data-dir", default=None,
                       help="folder of the four IDX files (offline); default: "
                       "$KERAS_SVD_LOCAL_DATA, else download with TFDS")
    train.add_argument("--tfds-dir", default=None,
                       help="TFDS data folder (default: TFDS's own)")
    train.add_argument("--output", default="keras-svd-output",
                       help="output folder (default: keras-svd-output)")
    train.add_argument("--recipe", default="paper", choices=RECIPE_NAMES,
                       help="training recipe: the paper's (200 epochs) or a "
                       "quick one (3 epochs); default: paper")
    # The flag's former name, still accepted.
    train.add_argument("--protocol", dest="recipe", choices=RECIPE_NAMES,
                       default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    train.add_argument("--train-size", type=_positive_int, default=None,
                       help="use only the first N training examples")
    train.add_argument("--test-size", type=_positive_int, default=None,
                       help="use only the first N test examples")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 quiet, 1 a progress bar per epoch (one line "
                       "per epoch when the output is not a terminal), 2 one "
                       "line per epoch and TensorFlow's own log")
    train.add_argument("--distribution", default="none",
                       choices=DISTRIBUTIONS,
                       help="data parallelism: none (default), mirrored "
                       "(TensorFlow's MirroredStrategy over the local GPUs, "
                       "else every logical CPU), data-parallel (JAX's "
                       "keras.distribution.DataParallel over every device; "
                       "with the three options below, over several "
                       "processes)")
    train.add_argument("--coordinator", type=_host_port, default=None,
                       metavar="HOST:PORT",
                       help="multi-process data-parallel (JAX): process 0's "
                       "address, the same in every process; needs "
                       "--num-processes, --process-id and --seed")
    train.add_argument("--num-processes", type=_positive_int, default=None,
                       help="multi-process: the number of processes")
    train.add_argument("--process-id", type=_non_negative_int, default=None,
                       help="multi-process: this process's index, 0 to "
                       "--num-processes - 1; process 0 writes --output")
    train.set_defaults(usage_error=train.error)

    tune = sub.add_parser(
        "tune",
        help="search the accuracy / compression trade-off with keras-tuner",
        description="Search a Sparse VD network's hyperparameters (widths, "
        "learning rate, KL warm-up, threshold, log sigma^2 init, train_clip, "
        "dropout) with keras-tuner on a dataset, the last --val-size "
        "training examples held out for the scores. Writes into --output: "
        "the search (resumed when run again with the same --output), "
        "trials.csv, pareto_front.csv, pareto_front.png (with matplotlib) "
        "and best_model.keras (the best trial's model, stripped to plain "
        "layers).",
    )
    tune.add_argument("model", choices=MODEL_NAMES, metavar="MODEL",
                      help="the architecture family: " + ", ".join(MODEL_NAMES))
    tune.add_argument("--dataset", default="mnist", choices=DATASETS)
    tune.add_argument("--trials", type=_positive_int, default=10,
                      help="trials of a random or Bayesian search (10)")
    tune.add_argument("--epochs", type=_positive_int, default=10,
                      help="epochs per trial (Hyperband: the most) (10)")
    tune.add_argument("--batch-size", type=_positive_int, default=100)
    tune.add_argument("--tuner", default="random", choices=TUNERS)
    tune.add_argument("--objective", default="tradeoff", choices=OBJECTIVES,
                      help="what ranks the trials (see the README's tuning "
                      "section); default: tradeoff")
    tune.add_argument("--data-dir", default=None,
                      help="folder of the four IDX files (offline)")
    tune.add_argument("--tfds-dir", default=None,
                      help="TFDS data folder (default: TFDS's own)")
    tune.add_argument("--train-size", type=_positive_int, default=None,
                      help="use only the first N training examples")
    tune.add_argument("--val-size", type=_positive_int, default=5000,
                      help="training examples held out for the scores (5000)")
    tune.add_argument("--output", default="keras-svd-tune",
                      help="output folder (default: keras-svd-tune)")
    tune.add_argument("--overwrite", action="store_true",
                      help="start afresh instead of resuming the search")
    tune.add_argument("--seed", type=int, default=None)
    tune.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)

    report = sub.add_parser(
        "report",
        help="print the per-layer sparsity table of a saved model",
        description="Print the per-layer sparsity of a saved .keras model: "
        "the pruned weights (log alpha >= threshold) of a variational model, "
        "the zero weights of a plain (stripped) one.",
    )
    report.add_argument("path", metavar="MODEL.keras")
    report.add_argument("--json", action="store_true",
                        help="print JSON instead of the table")
    report.add_argument("--plot", metavar="DIR", default=None,
                        help="also write figures into DIR (created if "
                        "missing; needs matplotlib): masks_<layer>.png, the "
                        "kept weights of each Dense and Conv2D layer (a "
                        "Dense layer's inputs as the image they flatten, else "
                        "as a near-square grid), and "
                        "log_alpha.png, the log alpha histograms (variational "
                        "models only); the written paths are printed (to "
                        "stderr with --json)")
    return main_parser


def _check_multi_process(args):
    """The multi-process options of `train` go together (exit 2 if not)."""
    given = [
        flag
        for flag, value in (
            ("--coordinator", args.coordinator),
            ("--num-processes", args.num_processes),
            ("--process-id", args.process_id),
        )
        if value is not None
    ]
    if not given:
        return
    if len(given) < 3:
        args.usage_error(
            f"argument {given[0]}: a multi-process run needs --coordinator, "
            "--num-processes and --process-id together"
        )
    if args.distribution != "data-parallel":
        args.usage_error(
            "argument --coordinator: a multi-process run needs "
            f"--distribution data-parallel (JAX), not {args.distribution!r}"
        )
    if args.process_id >= args.num_processes:
        args.usage_error(
            f"argument --process-id: must be below --num-processes "
            f"{args.num_processes}, got {args.process_id}"
        )
    if args.seed is None:
        args.usage_error(
            "argument --seed: a multi-process run needs --seed N, the same "
            "in every process, so that they shuffle the data alike"
        )


@contextlib.contextmanager
def _quiet_stderr(enabled):
    """Sends file descriptor 2 to /dev/null (C++ logs included)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def main(argv=None):
    """Entry point of the `keras-svd` console script."""
    args = parser().parse_args(argv)
    if args.command == "train":
        _check_multi_process(args)
    verbose = getattr(args, "verbose", 1)
    quiet = verbose < 2
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow prints its start-up lines while it is imported, whatever
    # TF_CPP_MIN_LOG_LEVEL says; nothing else is on stderr then.
    with _quiet_stderr(quiet and "tensorflow" not in sys.modules):
        from keras_svd import cli

        if quiet:
            cli.silence_tensorflow_logs()
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
