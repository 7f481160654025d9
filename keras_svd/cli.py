"""The `keras-svd` command: train the paper's networks, report a saved model.

The arguments are parsed by `keras_svd_cli` (outside the package, so that
`--help` answers without importing TensorFlow; its `main` is the entry
point, `python -m keras_svd_cli` the module form); this module runs the
parsed commands.
"""

import json
import logging
import os
import sys
import zipfile

__all__ = ["run"]


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
        elif args.command == "tune":
            _tune(args)
        else:
            _report(args)
    except DatasetUnavailableError as e:
        raise SystemExit(
            "keras-svd: error: " + e.message("--data-dir DIR")
        ) from None
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise SystemExit(f"keras-svd: error: {e}") from None
    return 0


def _fit_verbosity(verbose):
    """Keras's `verbose`: no progress bar when stdout is not a terminal."""
    if verbose < 2 and not sys.stderr.isatty():
        import tensorflow_datasets as tfds

        tfds.disable_progress_bar()
    if verbose == 1 and not sys.stdout.isatty():
        # No progress bar (carriage returns) in a log file: a line an epoch.
        return 2
    return verbose


def _train(args):
    from keras_svd import training

    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise SystemExit(
            f"keras-svd: error: --data-dir {args.data_dir!r} is not a folder "
            "(it should hold train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz)"
        )
    distribution = _set_up_distribution(args)
    verbose = _fit_verbosity(args.verbose)
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
        distribution=distribution,
    )
    from keras_svd.distribution import is_chief

    if not is_chief():
        return
    print(training.result_table(result))
    files = [
        os.path.join(args.output, name)
        for name in training.OUTPUT_FILES
    ]
    print(f"Wrote {', '.join(files[:-1])} and {files[-1]}")


def _set_up_distribution(args):
    """Checks `--distribution` on this backend; joins a multi-process job.

    A distribution the backend cannot do is a usage error (exit code 2),
    as argparse reports a bad argument.
    """
    from keras_svd import distribution as distribution_lib

    name = getattr(args, "distribution", distribution_lib.NONE)
    coordinator = getattr(args, "coordinator", None)
    try:
        distribution_lib.check_distribution(
            name, multi_process=coordinator is not None
        )
    except distribution_lib.DistributionUnavailableError as e:
        message = f"argument --distribution: {e}"
        usage_error = getattr(args, "usage_error", None)
        if usage_error is not None:
            usage_error(message)
        print(f"keras-svd train: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    if coordinator is not None:
        distribution_lib.initialize(
            coordinator, args.num_processes, args.process_id
        )
    return name


# Command-line model names -> `keras_svd.tuner.SparseVDHyperModel` families.
TUNE_FAMILIES = {
    "lenet-300-100": "mlp",
    "lenet5-caffe": "lenet5",
    "vgg-like": "vgg",
}


def _tune(args):
    from keras_svd import strip
    from keras_svd import tuner

    x, y = _training_arrays(args)
    if args.val_size >= len(x):
        raise ValueError(
            f"--val-size must be smaller than the {len(x)} training "
            f"examples. Received: --val-size {args.val_size}"
        )
    split = len(x) - args.val_size
    os.makedirs(args.output, exist_ok=True)
    result = tuner.run_search(
        x[:split],
        y[:split],
        (x[split:], y[split:]),
        family=TUNE_FAMILIES[args.model],
        objective=args.objective,
        tuner=args.tuner,
        max_trials=args.trials,
        epochs=args.epochs,
        batch_size=args.batch_size,
        directory=os.path.join(args.output, "search"),
        project_name=args.model,
        overwrite=args.overwrite,
        seed=args.seed,
        verbose=_fit_verbosity(args.verbose),
    )
    points = result["pareto_front"]
    written = [
        _write_trials(os.path.join(args.output, "trials.csv"), points),
        _write_trials(
            os.path.join(args.output, "pareto_front.csv"),
            [p for p in points if p["pareto_optimal"]],
        ),
    ]
    try:
        png = os.path.join(args.output, "pareto_front.png")
        tuner.plot_pareto_front(points, path=png)
        written.append(png)
    except ImportError as e:
        print(f"No pareto_front.png: {e}")
    (best,) = result["tuner"].get_best_models(1)
    best_path = os.path.join(args.output, "best_model.keras")
    strip.strip_variational(best).save(best_path)
    written.append(best_path)
    optimal = [p for p in points if p["pareto_optimal"]]
    print(f"{len(points)} trials, {len(optimal)} on the Pareto front:")
    for point in sorted(optimal, key=lambda p: p["compression"]):
        print(
            f"  trial {point['trial_id']}: val_accuracy "
            f"{point['val_accuracy']:.4f}, compression "
            f"{point['compression']:.1f}x, kept {point['kept_weights']:,}"
        )
    print(f"Best trial by {args.objective}: {result['best_hyperparameters']}")
    print(f"Wrote {', '.join(written[:-1])} and {written[-1]}")


def _training_arrays(args):
    """The training split as arrays: local IDX files, else through TFDS."""
    from keras_svd import datasets

    name = args.dataset.replace("-", "_")
    if name != "cifar10" and (
        args.data_dir is not None
        or os.environ.get(datasets.loading.LOCAL_DATA_ENV_VAR)
    ):
        (x, y), _ = datasets.load_numpy(name, source_dir=args.data_dir)
    else:
        import numpy as np

        data = datasets.load(
            name, batch_size=1000, data_dir=args.tfds_dir, seed=args.seed
        )
        pairs = [
            (np.asarray(images), np.asarray(labels))
            for images, labels in data.train.as_numpy_iterator()
        ]
        x = np.concatenate([p[0] for p in pairs])
        y = np.concatenate([p[1] for p in pairs])
    if args.train_size is not None:
        x, y = x[: args.train_size], y[: args.train_size]
    return x, y


def _write_trials(path, points):
    import csv

    fields = ["trial_id", "val_accuracy", "compression", "kept_weights",
              "score", "pareto_optimal", "hyperparameters"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for point in points:
            row = {key: point.get(key) for key in fields}
            row["hyperparameters"] = json.dumps(point["hyperparameters"])
            writer.writerow(row)
    return path


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
    else:
        print(sparsity_table(training.sparsity_of(result), title=title))
    if args.plot is not None:
        written = _write_plots(model, args.plot)
        out = sys.stderr if args.json else sys.stdout
        print(f"Wrote {', '.join(written)}", file=out)


def _write_plots(model, folder):
    """`report --plot`: the mask figures and the log alpha histograms."""
    import re

    try:
        import matplotlib

        matplotlib.use("Agg")  # No display: files only.
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit(
            "keras-svd: error: --plot needs matplotlib, which is not "
            'installed. Install it with `pip install "keras-svd[notebooks]"`.'
        ) from None
    from keras_svd import plots
    from keras_svd.model_utils import variational_layers
    from keras_svd.plots.plot_weight_masks import flattened_image_shape
    from keras_svd.plots.plot_weight_masks import mask_layers

    os.makedirs(folder, exist_ok=True)
    written = []
    names = set()
    for layer in mask_layers(model):
        image_shape = None
        if len(layer.kernel.shape) == 2 and (
            flattened_image_shape(model, layer) is None
        ):
            # Inputs that are not an image: laid out as a near-square grid.
            image_shape = _grid_shape(int(layer.kernel.shape[0]))
        name = re.sub(r"[^\w.-]", "_", layer.name)
        while name in names:
            name += "_"
        names.add(name)
        path = os.path.join(folder, f"masks_{name}.png")
        fig = plots.plot_weight_masks(
            model, layer, image_shape=image_shape, path=path
        )
        plt.close(fig)
        written.append(path)
    if variational_layers(model):
        path = os.path.join(folder, "log_alpha.png")
        plt.close(plots.plot_log_alpha_histograms(model, path=path))
        written.append(path)
    if not written:
        raise SystemExit(
            "keras-svd: error: --plot: the model has no Dense or Conv2D "
            "layer to draw"
        )
    return written


def _grid_shape(count):
    """(rows, columns), rows * columns == count, as square as can be."""
    rows = max(d for d in range(1, int(count**0.5) + 1) if count % d == 0)
    return rows, count // rows


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

