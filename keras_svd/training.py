"""Trains a model of the zoo with a recipe and reports the paper's table."""

import json
import os
import pathlib
import time

import keras

from keras_svd import datasets
from keras_svd import distribution as distribution_lib
from keras_svd import models
from keras_svd.callbacks.kl_annealing import KLAnnealing
from keras_svd.callbacks.sparsity_monitor import SparsityMonitor
from keras_svd.model_utils import set_num_train_examples
from keras_svd.recipes import PAPER_RESULTS
from keras_svd.recipes import get_recipe
from keras_svd.sparsity import measure_sparsity
from keras_svd.sparsity import sparsity_table

# The model-wide figures of a `measure_sparsity` report kept in a result.
_TOTALS = ("weights", "kept", "sparsity", "compression")
# What `run_recipe` writes into its `output` folder.
OUTPUT_FILES = ("result.json", "history.csv", "model.keras")


def _check_model_name(model_name):
    if model_name not in models.MODELS:
        raise ValueError(
            f"model must be one of {', '.join(sorted(models.MODELS))}. "
            f"Received: model={model_name!r}"
        )


def build_model(model_name, input_shape, num_classes, variational=True, **kw):
    """Builds a zoo model by its command-line name."""
    _check_model_name(model_name)
    return models.MODELS[model_name](
        variational=variational,
        input_shape=tuple(input_shape),
        num_classes=num_classes,
        **kw,
    )


def model_result(model):
    """Measures a trained model's sparsity for a result dict.

    Returns:
        A dict: `layers` (the rows of `keras_svd.measure_sparsity`, each
        with `sparsity_percent` added) and the report's totals `weights`,
        `kept`, `sparsity` and `compression`.
    """
    return result_from_report(measure_sparsity(model))


def result_from_report(report):
    """The result-dict form of a sparsity report (see `model_result`)."""
    return {
        "layers": [
            dict(row, sparsity_percent=100.0 * row["sparsity"])
            for row in report["rows"]
        ],
        **{key: report[key] for key in _TOTALS},
    }


def sparsity_of(result):
    """The `keras_svd.measure_sparsity` report held in a result dict."""
    return {"rows": result["layers"], **{key: result[key] for key in _TOTALS}}


def result_table(result):
    """Formats a training result as the paper's table (one string)."""
    title = (
        f"{result['model']} on {result['dataset']} "
        f"({result['recipe']} recipe, {result['epochs']} "
        f"{'epoch' if result['epochs'] == 1 else 'epochs'})"
    )
    lines = [
        sparsity_table(sparsity_of(result), title=title),
        f"Test error: {result['test_error_percent']:.2f}%",
    ]
    paper = result.get("paper")
    if paper:
        lines.append(
            f"Paper: {paper['test_error_percent']:.2f}% error, sparsity "
            + " / ".join(f"{s:g}" for s in paper["sparsity_percent"])
            + f" %, {paper['compression']}x"
        )
    return "\n".join(lines)


def train(
    model_name,
    dataset="mnist",
    recipe="paper",
    epochs=None,
    batch_size=None,
    data_dir=None,
    tfds_dir=None,
    output=None,
    train_size=None,
    test_size=None,
    seed=None,
    verbose=1,
    distribution="none",
):
    """Trains a variational model of the zoo and returns the result table.

    Args:
        model_name: `"lenet-300-100"`, `"lenet5-caffe"` or `"vgg-like"`.
        dataset: `"mnist"`, `"fashion_mnist"` or `"cifar10"`.
        recipe: `"paper"` or `"quick"` (see `keras_svd.recipes`).
        epochs: overrides the recipe's number of epochs.
        batch_size: overrides the recipe's batch size.
        data_dir: local folder of the dataset's IDX files (offline use).
        tfds_dir: TFDS data folder (default: TFDS's).
        output: folder for `result.json`, `model.keras` and `history.csv`.
        train_size: use only the first examples of the training split.
        test_size: use only the first examples of the test split.
        seed: seeds Keras, NumPy and the shuffling (needed in a
            multi-process job: every process must shuffle alike).
        verbose: Keras's `verbose` for `fit` (0, 1 or 2; 0 in a process
            other than the chief).
        distribution: `"none"`, `"mirrored"` (TensorFlow) or
            `"data-parallel"` (JAX), see `keras_svd.distribution`. For a
            multi-process JAX job call `keras_svd.distribution.initialize`
            first, in every process: each trains on its part of every
            global batch and only process 0 writes into `output`.

    Returns:
        A dict: model, dataset, recipe, epochs, test_error_percent, layers
        (rows with layer, weights, kept, sparsity, sparsity_percent), the
        totals weights, kept, sparsity and compression, train_seconds and
        the paper's figures where it has them.
    """
    _check_model_name(model_name)
    distribution_lib.check_distribution(distribution)
    training_recipe = get_recipe(recipe, model_name, epochs, batch_size)
    if seed is None and distribution_lib.process_count() > 1:
        raise ValueError(
            "A multi-process run needs a seed, so that every process "
            "shuffles the training data the same way. Received: seed=None"
        )
    if data_dir is not None and not os.path.isdir(data_dir):
        raise FileNotFoundError(
            f"The data folder does not exist. Received: data_dir={data_dir!r}"
        )
    # In a multi-process job the chief prepares the data first (a TFDS copy
    # of local files), the other processes then read it.
    with distribution_lib.chief_first("keras_svd.training.load"):
        data = datasets.load(
            dataset,
            batch_size=training_recipe.batch_size,
            data_dir=tfds_dir,
            source_dir=data_dir,
            seed=seed,
            train_size=train_size,
            test_size=test_size,
        )
    distribution_lib.check_batches(
        distribution,
        training_recipe.batch_size,
        {"train_size": data.num_train_examples,
         "test_size": data.num_test_examples},
    )
    if seed is not None:
        # After loading, which may draw random numbers in one process only
        # (the chief prepares the data): every process of a job must make
        # the same initial weights.
        keras.utils.set_random_seed(seed)
    # In a multi-process job each process trains on its part of every
    # global batch (the pipelines' batch size is not static, so Keras's own
    # auto-sharding cannot split them).
    multi_process = distribution_lib.process_count() > 1
    train_data, test_data = data.train, data.test
    if multi_process:
        batch = training_recipe.batch_size
        train_data = distribution_lib.shard_dataset(train_data, batch)
        test_data = distribution_lib.shard_dataset(test_data, batch)
    with distribution_lib.scope(
        distribution, auto_shard_dataset=not multi_process
    ):
        model = build_model(
            model_name,
            data.input_shape,
            data.num_classes,
            train_clip=training_recipe.train_clip,
        )
        # N is the whole training set, whatever share a process trains on.
        return run_recipe(
            model,
            training_recipe,
            train_data,
            test_data,
            num_train_examples=data.num_train_examples,
            dataset_name=data.name,
            model_name=model_name,
            output=output,
            verbose=verbose if distribution_lib.is_chief() else 0,
        )


def _fit_kwargs(data, batch_size):
    """`fit`/`evaluate` arguments for a tf.data pipeline or an (x, y) pair."""
    if isinstance(data, (tuple, list)):
        x, y = data
        return {"x": x, "y": y, "batch_size": batch_size}
    return {"x": data}


class _MeasuredColumnsCSVLogger(keras.callbacks.CSVLogger):
    """A `CSVLogger` whose columns are the keys of the first epoch's logs.

    Keras's adds a `val_` column per key when the first epoch has none (for
    a later validation epoch), which here, without validation data, are
    columns of `NA` only.
    """

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None and logs:
            self.keys = sorted(logs)
        super().on_epoch_end(epoch, logs)


def run_recipe(
    model,
    recipe,
    train_data,
    test_data,
    num_train_examples,
    dataset_name,
    model_name,
    output=None,
    verbose=1,
    backup_dir=None,
):
    """Compiles, trains and evaluates `model` with a `TrainingRecipe`.

    Args:
        model: an uncompiled variational model with logits out.
        recipe: the `TrainingRecipe`.
        train_data: a batched `tf.data.Dataset` or a pair `(x, y)` of arrays
            (any backend).
        test_data: the same for the test split.
        num_train_examples: N of the KL term.
        dataset_name: recorded in the result.
        model_name: recorded in the result.
        output: folder for `result.json`, `model.keras` and `history.csv`
            (written by the chief process only, see
            `keras_svd.distribution.is_chief`).
        verbose: Keras's `verbose` for `fit`.
        backup_dir: when given, a `keras.callbacks.BackupAndRestore` folder:
            an interrupted run started again with the same folder resumes
            from its last finished epoch (and `history.csv` is appended to).

    Returns:
        The result dict of `train`.
    """
    set_num_train_examples(model, num_train_examples)
    model.compile(
        optimizer=keras.optimizers.Adam(recipe.learning_rate, beta_1=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callbacks = [
        KLAnnealing(recipe.kl_schedule),
        keras.callbacks.LearningRateScheduler(recipe.learning_rate_at),
        SparsityMonitor(per_layer=True),
    ]
    resuming = backup_dir is not None and pathlib.Path(backup_dir).exists()
    if backup_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup_dir)))
    # In a multi-process job only the chief writes files (every process
    # trains, measures and evaluates: on JAX those are joint computations).
    writes = output is not None and distribution_lib.is_chief()
    if writes:
        pathlib.Path(output).mkdir(parents=True, exist_ok=True)
        callbacks.append(
            _MeasuredColumnsCSVLogger(
                str(pathlib.Path(output) / "history.csv"), append=resuming
            )
        )
    start = time.perf_counter()
    model.fit(
        **_fit_kwargs(train_data, recipe.batch_size),
        epochs=recipe.epochs,
        callbacks=callbacks,
        shuffle=isinstance(train_data, (tuple, list)),
        verbose=verbose,
    )
    train_seconds = time.perf_counter() - start

    # The pruned, deterministic network (variational layers at inference).
    logs = model.evaluate(
        **_fit_kwargs(test_data, recipe.batch_size),
        verbose=0,
        return_dict=True,
    )
    result = {
        "model": model_name,
        "dataset": dataset_name,
        "recipe": recipe.name,
        "epochs": recipe.epochs,
        "batch_size": recipe.batch_size,
        "num_train_examples": num_train_examples,
        "test_error_percent": 100.0 * (1.0 - float(logs["accuracy"])),
        **model_result(model),
        "train_seconds": train_seconds,
        "backend": keras.backend.backend(),
    }
    if dataset_name == "mnist" and model_name in PAPER_RESULTS:
        result["paper"] = PAPER_RESULTS[model_name]
    if writes:
        out = pathlib.Path(output)
        distribution_lib.save_model(model, out / "model.keras")
        (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
