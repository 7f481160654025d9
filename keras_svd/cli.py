"""The `keras-svd` command: train the paper's networks, report a saved model.

The arguments are parsed by `keras_svd_cli` (outside the package, so that
`--help` answers without importing TensorFlow); this module runs the
commands.
"""

import json
import logging
import os
import sys
import zipfile

import keras_svd_cli

__all__ = ["main", "run"]


def main(argv=None):
    """Entry point of the `keras-svd` command (see `keras_svd_cli.main`)."""
    return keras_svd_cli.main(argv)


def silence_tensorflow_logs():
    """Keeps TensorFlow's Python-side log (retracing warnings...) quiet."""
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].get_logger().setLevel(logging.ERROR)


def run(args):
    """Runs a parsed command; a user error exits with its message."""
    from keras_svd.datasets import DatasetUnavailableError

    try:
        if args.command == "train":
            _train(args)
        else:
            _report(args)
    except DatasetUnavailableError as e:
        raise SystemExit(
            "keras-svd: error: " + e.message("--data-dir DIR")
        ) from None
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise SystemExit(f"keras-svd: error: {e}") from None
    return 0


def _train(args):
    from keras_svd import training

    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise SystemExit(
            f"keras-svd: error: --data-dir {args.data_dir!r} is not a folder "
            "(it should hold train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz)"
        )
    verbose = args.verbose
    if verbose == 1 and not sys.stdout.isatty():
        # No progress bar (carriage returns) in a log file: a line an epoch.
        verbose = 2
    if args.verbose < 2 and not sys.stderr.isatty():
        import tensorflow_datasets as tfds

        tfds.disable_progress_bar()
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
        verbose=verbose,
    )
    print(training.result_table(result))
    files = [
        os.path.join(args.output, name)
        for name in training.OUTPUT_FILES
    ]
    print(f"Wrote {', '.join(files[:-1])} and {files[-1]}")


def _report(args):
    path = args.path
    if not os.path.isfile(path):
        raise SystemExit(f"keras-svd: error: no such file: {path!r}")
    problem = _keras_file_problem(path)
    if problem:
        raise SystemExit(f"keras-svd: error: {path!r} {problem}")
    import keras

    from keras_svd import training
    from keras_svd.model_utils import variational_layers
    from keras_svd.sparsity import measure_zeros
    from keras_svd.sparsity import sparsity_table

    try:
        model = keras.saving.load_model(path)
    except Exception as e:  # Keras raises many types for a bad file.
        raise SystemExit(
            f"keras-svd: error: {path!r} is a .keras archive, but Keras "
            f"could not load the model in it: {type(e).__name__}: {e}"
        ) from None
    if variational_layers(model):
        result = training.model_result(model)
        title = None
    else:
        result = training.result_from_report(measure_zeros(model))
        result["plain_model"] = True
        title = (
            f"{model.name}: a plain model (no variational layers); its zero "
            "weights count as pruned"
        )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(sparsity_table(training.sparsity_of(result), title=title))


def _keras_file_problem(path):
    """What makes `path` not a `.keras` file, or None when it looks like one."""
    if not zipfile.is_zipfile(path):
        return (
            "is not a .keras file: it is not a zip archive (a .keras file "
            "is a zip of config.json, metadata.json and model.weights.h5; "
            "is it truncated, or another format such as .h5?)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError) as e:
        return f"is a damaged zip archive: {e}"
    if bad is not None:
        return f"is a damaged zip archive: {bad!r} fails its checksum"
    missing = [
        name for name in ("config.json", "model.weights.h5") if name not in names
    ]
    if missing:
        return (
            "is a zip archive but not a .keras file: it lacks "
            + " and ".join(missing)
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
