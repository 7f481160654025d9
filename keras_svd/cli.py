"""The `keras-svd` command: train the paper's networks, report a saved model."""

import argparse
import json
import os
import sys

from keras_svd import models
from keras_svd.recipes import RECIPE_NAMES

DATASETS = ("mnist", "fashion_mnist", "fashion-mnist", "cifar10")


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


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-svd",
        description="Sparse Variational Dropout for Keras: train the "
        "paper's networks and report their sparsity.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train",
        help="train a variational model and print the paper's table",
        description="Train a variational model of the zoo with the paper's "
        "recipe (default) or a quick one; print the result table and write "
        "result.json, history.csv and model.keras into --output.",
    )
    train.add_argument("model", choices=sorted(models.MODELS), metavar="MODEL",
                       help="one of: " + ", ".join(sorted(models.MODELS)))
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
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)

    report = sub.add_parser(
        "report", help="print the per-layer sparsity table of a saved model"
    )
    report.add_argument("path", metavar="MODEL.keras")
    report.add_argument("--json", action="store_true",
                        help="print JSON instead of the table")
    return parser


def _train(args):
    from keras_svd import training

    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise SystemExit(
            f"keras-svd: error: --data-dir {args.data_dir!r} is not a folder "
            "(it should hold train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz)"
        )
    result = training.train(
        args.model,
        dataset=args.dataset,
        recipe=args.recipe,
        epochs=args.epochs,
        batch_size=args.batch_size,
        data_dir=args.data_dir,
        tfds_dir=args.tfds_dir,
        output=args.output,
        train_size=args.train_size,
        test_size=args.test_size,
        seed=args.seed,
        verbose=args.verbose,
    )
    print(training.result_table(result))
    print(f"Wrote {os.path.join(args.output, 'result.json')} and "
          f"{os.path.join(args.output, 'model.keras')}")


def _report(args):
    if not os.path.isfile(args.path):
        raise SystemExit(f"keras-svd: error: no such file: {args.path!r}")
    import keras

    from keras_svd import training
    from keras_svd.sparsity import sparsity_table

    try:
        model = keras.saving.load_model(args.path)
    except Exception as e:  # Keras raises many types for a bad file.
        raise SystemExit(
            f"keras-svd: error: cannot load {args.path!r} as a Keras model: "
            f"{type(e).__name__}: {e}"
        )
    try:
        result = training.model_result(model)
    except ValueError as e:
        raise SystemExit(f"keras-svd: error: {e}")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(sparsity_table(training.sparsity_of(result)))


def main(argv=None):
    """Entry point of the `keras-svd` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            _train(args)
        else:
            _report(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise SystemExit(f"keras-svd: error: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
