"""Every public function and constructor, called with wrong arguments.

One table: each row calls one public callable of keras_svd with one wrong
argument (wrong type, out of range, empty, an unbuilt model, a model without
variational layers where one is needed, a missing or corrupt file) and
names the argument. The call must raise a `ValueError` whose message names
that argument after `Received:`, as Keras words its errors; a wrong type may
raise a `TypeError` instead (the shared checks of `keras_svd.validation`
word both alike, as a ValueError), and a missing path a
`FileNotFoundError`.

`test_the_catalogue_covers_every_public_callable` keeps the table complete:
a new public function or class needs a row here, or a reason to be left
out in `NOT_CATALOGUED`.
"""

import re
import types

import keras
import numpy as np
import pytest

import keras_svd
from keras_svd import callbacks
from keras_svd import datasets
from keras_svd import layers
from keras_svd import models
from keras_svd import schedules
from keras_svd import tuner

# What each kind of wrong argument may raise.
VALUE = (ValueError,)
WRONG_TYPE = (TypeError, ValueError)
MISSING = (FileNotFoundError,)


def _case(target, argument, call, errors=VALUE, label=""):
    """One row: `call(ctx)` must raise `errors` naming `argument`.

    Args:
        target: the public callable under test (for the coverage check).
        argument: the argument whose name the message must hold.
        call: a function of the shared fixture `ctx`.
        errors: the accepted exception types.
        label: what is wrong, for the test id.
    """
    name = target.__name__
    test_id = f"{name}-{argument}" + (f"-{label}" if label else "")
    return pytest.param(target, argument, call, errors, id=test_id)


def _enter(context_manager):
    with context_manager:
        pass


def _in_training(callback, model):
    callback.set_model(model)
    callback.on_train_begin()


_X = np.ones((5, 4), "float32")
_Y = np.zeros(5, "int64")
_MNIST_LIKE = (28, 28, 1)

CASES = [
    # -- Layers ---------------------------------------------------------------
    _case(
        layers.VariationalDense, "units", lambda c: layers.VariationalDense(0)
    ),
    _case(
        layers.VariationalDense,
        "units",
        lambda c: layers.VariationalDense("3"),
        WRONG_TYPE,
        "str",
    ),
    _case(
        layers.VariationalDense,
        "activation",
        lambda c: layers.VariationalDense(2, activation="no-such-function"),
    ),
    _case(
        layers.VariationalDense,
        "kernel_initializer",
        lambda c: layers.VariationalDense(2, kernel_initializer="nope"),
    ),
    _case(
        layers.VariationalDense,
        "bias_initializer",
        lambda c: layers.VariationalDense(2, bias_initializer="nope"),
    ),
    _case(
        layers.VariationalDense,
        "kernel_regularizer",
        lambda c: layers.VariationalDense(2, kernel_regularizer="nope"),
    ),
    _case(
        layers.VariationalDense,
        "bias_regularizer",
        lambda c: layers.VariationalDense(2, bias_regularizer=3),
        WRONG_TYPE,
    ),
    _case(
        layers.VariationalDense,
        "activity_regularizer",
        lambda c: layers.VariationalDense(2, activity_regularizer="nope"),
    ),
    _case(
        layers.VariationalDense,
        "kernel_constraint",
        lambda c: layers.VariationalDense(2, kernel_constraint="nope"),
    ),
    _case(
        layers.VariationalDense,
        "bias_constraint",
        lambda c: layers.VariationalDense(2, bias_constraint="nope"),
    ),
    _case(
        layers.VariationalDense,
        "log_sigma2_init",
        lambda c: layers.VariationalDense(2, log_sigma2_init=float("nan")),
    ),
    _case(
        layers.VariationalDense,
        "threshold",
        lambda c: layers.VariationalDense(2, threshold="high"),
        WRONG_TYPE,
    ),
    _case(
        layers.VariationalDense,
        "train_clip",
        lambda c: layers.VariationalDense(2, train_clip=1),
        WRONG_TYPE,
    ),
    _case(
        layers.VariationalDense,
        "use_bias",
        lambda c: layers.VariationalDense(2, use_bias="yes"),
        WRONG_TYPE,
    ),
    _case(
        layers.VariationalDense,
        "num_train_examples",
        lambda c: layers.VariationalDense(2, num_train_examples=0),
    ),
    _case(
        layers.VariationalDense,
        "kl_weight",
        lambda c: layers.VariationalDense(2, kl_weight=-1.0),
    ),
    _case(
        layers.VariationalDense,
        "seed",
        lambda c: layers.VariationalDense(2, seed="x"),
        WRONG_TYPE,
    ),
    _case(
        layers.VariationalDense,
        "input_shape",
        lambda c: layers.VariationalDense(2).build((3,)),
        label="rank_1",
    ),
    _case(
        layers.VariationalConv2D,
        "filters",
        lambda c: layers.VariationalConv2D(0, 3),
    ),
    _case(
        layers.VariationalConv2D,
        "kernel_size",
        lambda c: layers.VariationalConv2D(2, (1, 2, 3)),
    ),
    _case(
        layers.VariationalConv2D,
        "strides",
        lambda c: layers.VariationalConv2D(2, 3, strides=0),
    ),
    _case(
        layers.VariationalConv2D,
        "padding",
        lambda c: layers.VariationalConv2D(2, 3, padding="causal"),
    ),
    _case(
        layers.VariationalConv2D,
        "data_format",
        lambda c: layers.VariationalConv2D(2, 3, data_format="NCHW"),
    ),
    _case(
        layers.VariationalConv2D,
        "dilation_rate",
        lambda c: layers.VariationalConv2D(2, 3, dilation_rate=(1, 0)),
    ),
    _case(
        layers.VariationalConv2D,
        "dilation_rate",
        lambda c: layers.VariationalConv2D(2, 3, strides=2, dilation_rate=2),
        label="with_strides",
    ),
    _case(
        layers.VariationalConv2D,
        "groups",
        lambda c: layers.VariationalConv2D(3, 3, groups=2),
    ),
    _case(
        layers.VariationalConv2D,
        "kernel_initializer",
        lambda c: layers.VariationalConv2D(2, 3, kernel_initializer="nope"),
    ),
    _case(
        layers.VariationalConv2D,
        "input_shape",
        lambda c: layers.VariationalConv2D(2, 5).build((1, 4, 4, 1)),
        label="kernel_larger_than_input",
    ),
    _case(
        layers.VariationalConv2D,
        "input_shape",
        lambda c: layers.VariationalConv2D(2, 3, groups=2).build(
            (1, 5, 5, 3)
        ),
        label="channels_not_divisible",
    ),
    _case(layers.PermaDropout, "rate", lambda c: layers.PermaDropout(1.0)),
    _case(
        layers.PermaDropout,
        "rate",
        lambda c: layers.PermaDropout("0.5"),
        WRONG_TYPE,
        "str",
    ),
    _case(
        layers.PermaDropout,
        "seed",
        lambda c: layers.PermaDropout(0.5, seed=1.5),
        WRONG_TYPE,
    ),
    _case(
        layers.PermaDropout,
        "noise_shape",
        lambda c: layers.PermaDropout(0.5, noise_shape="abc"),
        WRONG_TYPE,
    ),
    _case(
        layers.PermaDropout,
        "noise_shape",
        lambda c: layers.PermaDropout(0.5, noise_shape=(1, 5))(
            np.ones((2, 3), "float32")
        ),
        label="does_not_fit_the_inputs",
    ),
    _case(
        keras_svd.FeatureGather,
        "indices",
        lambda c: keras_svd.FeatureGather([]),
    ),
    _case(
        keras_svd.FeatureGather,
        "axis",
        lambda c: keras_svd.FeatureGather([0], axis=0),
    ),
    _case(
        keras_svd.FeatureGather,
        "indices",
        lambda c: keras_svd.FeatureGather([5])(np.ones((2, 3), "float32")),
        label="out_of_range",
    ),
    _case(
        layers.is_variational,
        "strict",
        lambda c: layers.is_variational(c.plain, strict="yes"),
        WRONG_TYPE,
    ),
    # -- Model utilities ------------------------------------------------------
    _case(
        keras_svd.variational_layers,
        "model",
        lambda c: keras_svd.variational_layers(None),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.set_num_train_examples,
        "num_train_examples",
        lambda c: keras_svd.set_num_train_examples(c.variational, 0),
    ),
    _case(
        keras_svd.set_num_train_examples,
        "model",
        lambda c: keras_svd.set_num_train_examples(c.plain, 10),
        label="no_variational_layer",
    ),
    _case(
        keras_svd.set_kl_weight,
        "kl_weight",
        lambda c: keras_svd.set_kl_weight(c.variational, -1.0),
    ),
    _case(
        keras_svd.set_kl_weight,
        "model",
        lambda c: keras_svd.set_kl_weight(c.plain, 0.5),
        label="no_variational_layer",
    ),
    _case(
        keras_svd.read_kl_log,
        "model",
        lambda c: keras_svd.read_kl_log(c.unbuilt),
        label="unbuilt",
    ),
    _case(
        keras_svd.read_kl_log,
        "reset",
        lambda c: keras_svd.read_kl_log(c.variational, reset="yes"),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.set_weight_sampling,
        "enabled",
        lambda c: keras_svd.set_weight_sampling(c.variational, "yes"),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.set_weight_sampling,
        "model",
        lambda c: keras_svd.set_weight_sampling(c.unbuilt, True),
        label="unbuilt",
    ),
    _case(
        keras_svd.sampling_mode,
        "enabled",
        lambda c: _enter(keras_svd.sampling_mode(c.variational, enabled=2)),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.sampling_mode,
        "model",
        lambda c: _enter(keras_svd.sampling_mode("model")),
        WRONG_TYPE,
    ),
    # -- Sparsity -------------------------------------------------------------
    _case(
        keras_svd.measure_sparsity,
        "model",
        lambda c: keras_svd.measure_sparsity(c.plain),
        label="no_variational_layer",
    ),
    _case(
        keras_svd.measure_sparsity,
        "model",
        lambda c: keras_svd.measure_sparsity(c.unbuilt),
        label="unbuilt",
    ),
    _case(
        keras_svd.measure_sparsity,
        "step",
        lambda c: keras_svd.measure_sparsity(c.variational, step="x"),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.sparsity_report,
        "model",
        lambda c: keras_svd.sparsity_report(c.unbuilt),
        label="unbuilt",
    ),
    _case(
        keras_svd.compression_ratio,
        "model",
        lambda c: keras_svd.compression_ratio(c.plain),
        label="no_variational_layer",
    ),
    _case(
        keras_svd.sparsity_table,
        "report",
        lambda c: keras_svd.sparsity_table({}),
        label="empty",
    ),
    _case(
        keras_svd.sparsity_table,
        "report",
        lambda c: keras_svd.sparsity_table([]),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.sparsity_table,
        "title",
        lambda c: keras_svd.sparsity_table(
            keras_svd.measure_sparsity(c.variational), title=3
        ),
        WRONG_TYPE,
    ),
    # -- Monte-Carlo prediction -----------------------------------------------
    _case(
        keras_svd.mc_predict,
        "model",
        lambda c: keras_svd.mc_predict("model", _X),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.mc_predict,
        "samples",
        lambda c: keras_svd.mc_predict(c.variational, _X, samples=0),
    ),
    _case(
        keras_svd.mc_predict,
        "batch_size",
        lambda c: keras_svd.mc_predict(c.variational, _X, batch_size=0),
    ),
    _case(
        keras_svd.mc_predict,
        "chunk_size",
        lambda c: keras_svd.mc_predict(
            c.variational, _X, samples=2, chunk_size=3
        ),
    ),
    _case(
        keras_svd.mc_predict,
        "from_logits",
        lambda c: keras_svd.mc_predict(c.variational, _X, from_logits="x"),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.mc_predict,
        "from_logits",
        lambda c: keras_svd.mc_predict(c.softmax, _X, from_logits=True),
        label="on_probabilities",
    ),
    _case(
        keras_svd.mc_predict,
        "sample_weights",
        lambda c: keras_svd.mc_predict(c.variational, _X, sample_weights=None),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.mc_predict,
        "return_samples",
        lambda c: keras_svd.mc_predict(c.variational, _X, return_samples=1),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.mc_predict,
        "x",
        lambda c: keras_svd.mc_predict(c.variational, np.ones((5, 3))),
        label="wrong_shape",
    ),
    _case(
        keras_svd.mc_predict,
        "x",
        lambda c: keras_svd.mc_predict(c.variational, np.ones((0, 4))),
        label="empty",
    ),
    _case(
        keras_svd.mc_predict,
        "x",
        lambda c: keras_svd.mc_predict(c.variational, None),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.mc_predict,
        "model",
        lambda c: keras_svd.mc_predict(c.one_output, _X, samples=2),
        label="one_output_unit",
    ),
    _case(
        keras_svd.mc_predict,
        "model",
        lambda c: keras_svd.mc_predict(c.unbuilt, _X, samples=2),
        label="unbuilt",
    ),
    # -- Export ---------------------------------------------------------------
    _case(
        keras_svd.strip_variational,
        "perma_dropout",
        lambda c: keras_svd.strip_variational(c.variational, "drop"),
    ),
    _case(
        keras_svd.strip_variational,
        "model",
        lambda c: keras_svd.strip_variational(c.unbuilt),
        label="unbuilt",
    ),
    _case(
        keras_svd.strip_variational,
        "model",
        lambda c: keras_svd.strip_variational(layers.VariationalDense(2)),
        WRONG_TYPE,
        "a_layer",
    ),
    _case(
        keras_svd.compact,
        "model",
        lambda c: keras_svd.compact(c.unbuilt),
        label="unbuilt",
    ),
    _case(
        keras_svd.compact,
        "model",
        lambda c: keras_svd.compact("model"),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.save_sparse,
        "model",
        lambda c: keras_svd.save_sparse(keras.layers.Dense(2), c.new_file),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.save_sparse,
        "path",
        lambda c: keras_svd.save_sparse(c.variational, 3),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.save_sparse,
        "path",
        lambda c: keras_svd.save_sparse(c.variational, c.sparse_file),
        label="exists",
    ),
    _case(
        keras_svd.save_sparse,
        "path",
        lambda c: keras_svd.save_sparse(
            c.variational, c.missing / "model.npz"
        ),
        MISSING,
        "missing_folder",
    ),
    _case(
        keras_svd.save_sparse,
        "overwrite",
        lambda c: keras_svd.save_sparse(
            c.variational, c.new_file, overwrite="yes"
        ),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.load_sparse,
        "path",
        lambda c: keras_svd.load_sparse(None),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.load_sparse,
        "path",
        lambda c: keras_svd.load_sparse(c.missing),
        MISSING,
        "missing",
    ),
    _case(
        keras_svd.load_sparse,
        "path",
        lambda c: keras_svd.load_sparse(c.corrupt_file),
        label="corrupt",
    ),
    _case(
        keras_svd.load_sparse,
        "model",
        lambda c: keras_svd.load_sparse(c.sparse_file, model="model"),
        WRONG_TYPE,
    ),
    _case(
        keras_svd.load_sparse,
        "model",
        lambda c: keras_svd.load_sparse(c.sparse_file, model=c.plain),
        label="other_architecture",
    ),
    # -- Schedules and callbacks ----------------------------------------------
    _case(
        schedules.get,
        "identifier",
        lambda c: schedules.get({"class_name": "NoSuchSchedule", "config": {}}),
        label="unknown_class",
    ),
    _case(
        schedules.get,
        "identifier",
        lambda c: schedules.get("paper"),
        WRONG_TYPE,
    ),
    _case(
        schedules.deserialize,
        "config",
        lambda c: schedules.deserialize(
            {"class_name": "NoSuchSchedule", "config": {}}
        ),
        label="unknown_class",
    ),
    _case(
        schedules.deserialize,
        "config",
        lambda c: schedules.deserialize(
            {"class_name": "LinearWarmup", "config": {"start": 3, "end": 1}}
        ),
        label="bad_arguments",
    ),
    _case(
        schedules.deserialize,
        "custom_objects",
        lambda c: schedules.deserialize(
            {"class_name": "Constant", "config": {"value": 1.0}},
            custom_objects=3,
        ),
        WRONG_TYPE,
    ),
    _case(
        schedules.serialize,
        "schedule",
        lambda c: schedules.serialize(0.5),
        WRONG_TYPE,
    ),
    _case(schedules.Constant, "value", lambda c: schedules.Constant(2.0)),
    _case(
        schedules.LinearWarmup, "end", lambda c: schedules.LinearWarmup(5, 2)
    ),
    _case(
        schedules.LinearWarmup, "start", lambda c: schedules.LinearWarmup(-1, 2)
    ),
    _case(
        schedules.LinearWarmup,
        "initial",
        lambda c: schedules.LinearWarmup(0, 2, initial=2.0),
    ),
    _case(
        schedules.LinearWarmup,
        "by",
        lambda c: schedules.LinearWarmup(0, 2, by="batch"),
    ),
    _case(
        schedules.PaperWarmup,
        "epoch",
        lambda c: schedules.PaperWarmup()(-1),
        label="negative_epoch",
    ),
    _case(
        schedules.FunctionSchedule,
        "function",
        lambda c: schedules.FunctionSchedule(3),
        WRONG_TYPE,
    ),
    _case(
        schedules.FunctionSchedule,
        "beta",
        lambda c: schedules.FunctionSchedule(lambda epoch: 2.0)(0),
        label="returns_2",
    ),
    _case(
        callbacks.KLAnnealing,
        "schedule",
        lambda c: callbacks.KLAnnealing("fast"),
        WRONG_TYPE,
    ),
    _case(
        callbacks.KLAnnealing,
        "verbose",
        lambda c: callbacks.KLAnnealing(0.5, verbose=3),
    ),
    _case(
        callbacks.KLAnnealing,
        "model",
        lambda c: _in_training(callbacks.KLAnnealing(0.5), c.plain),
        label="no_variational_layer",
    ),
    _case(
        callbacks.SparsityMonitor,
        "update_freq",
        lambda c: callbacks.SparsityMonitor(update_freq=0),
    ),
    _case(
        callbacks.SparsityMonitor,
        "log_dir",
        lambda c: callbacks.SparsityMonitor(log_dir=3),
        WRONG_TYPE,
    ),
    _case(
        callbacks.SparsityMonitor,
        "histogram_freq",
        lambda c: callbacks.SparsityMonitor(histogram_freq=-1),
    ),
    _case(
        callbacks.SparsityMonitor,
        "per_layer",
        lambda c: callbacks.SparsityMonitor(per_layer="yes"),
        WRONG_TYPE,
    ),
    _case(
        callbacks.SparsityMonitor,
        "model",
        lambda c: _in_training(callbacks.SparsityMonitor(), c.plain),
        label="no_variational_layer",
    ),
    # -- Datasets -------------------------------------------------------------
    _case(
        datasets.read_idx, "path", lambda c: datasets.read_idx(None), WRONG_TYPE
    ),
    _case(
        datasets.read_idx,
        "path",
        lambda c: datasets.read_idx(c.missing),
        MISSING,
        "missing",
    ),
    _case(
        datasets.read_idx,
        "path",
        lambda c: datasets.read_idx(c.folder),
        label="a_folder",
    ),
    _case(
        datasets.read_idx,
        "path",
        lambda c: datasets.read_idx(c.corrupt_file),
        label="corrupt",
    ),
    _case(
        datasets.load_idx, "folder", lambda c: datasets.load_idx(3), WRONG_TYPE
    ),
    _case(
        datasets.load_idx,
        "folder",
        lambda c: datasets.load_idx(c.missing),
        MISSING,
        "missing",
    ),
    _case(
        datasets.load_idx,
        "folder",
        lambda c: datasets.load_idx(c.folder),
        MISSING,
        "no_files",
    ),
    _case(
        datasets.load_numpy, "name", lambda c: datasets.load_numpy("svhn")
    ),
    _case(
        datasets.load_numpy,
        "source_dir",
        lambda c: datasets.load_numpy("mnist", source_dir=c.missing),
        MISSING,
        "missing",
    ),
    _case(
        datasets.load_numpy,
        "source_dir",
        lambda c: datasets.load_numpy("mnist", source_dir=3),
        WRONG_TYPE,
    ),
    _case(
        datasets.load,
        "batch_size",
        lambda c: datasets.load("mnist", batch_size=0),
    ),
    _case(
        datasets.load,
        "seed",
        lambda c: datasets.load("mnist", seed="1"),
        WRONG_TYPE,
    ),
    _case(
        datasets.load,
        "source_dir",
        lambda c: datasets.load("mnist", source_dir=c.missing),
        MISSING,
        "missing",
    ),
    _case(
        datasets.load,
        "source_dir",
        lambda c: datasets.load("mnist", source_dir=c.folder),
        MISSING,
        "no_files",
    ),
    _case(
        datasets.load,
        "data_dir",
        lambda c: datasets.load("mnist", data_dir=3),
        WRONG_TYPE,
    ),
    _case(
        datasets.prepare_offline,
        "name",
        lambda c: datasets.prepare_offline("svhn", c.folder),
    ),
    _case(
        datasets.prepare_offline,
        "source_dir",
        lambda c: datasets.prepare_offline("mnist", None),
        WRONG_TYPE,
    ),
    _case(
        datasets.prepare_offline,
        "source_dir",
        lambda c: datasets.prepare_offline("mnist", c.missing, c.folder),
        MISSING,
        "missing",
    ),
    _case(
        datasets.prepare_offline,
        "overwrite",
        lambda c: datasets.prepare_offline("mnist", c.folder, overwrite=1),
        WRONG_TYPE,
    ),
    # -- Models ---------------------------------------------------------------
    _case(
        models.lenet_300_100,
        "num_classes",
        lambda c: models.lenet_300_100(num_classes=0),
    ),
    _case(
        models.lenet_300_100,
        "units",
        lambda c: models.lenet_300_100(units=(300,)),
    ),
    _case(
        models.lenet_300_100,
        "variational",
        lambda c: models.lenet_300_100(variational="yes"),
        WRONG_TYPE,
    ),
    _case(
        models.lenet_300_100,
        "input_shape",
        lambda c: models.lenet_300_100(input_shape=(0,)),
    ),
    _case(
        models.lenet_300_100,
        "threshold",
        lambda c: models.lenet_300_100(threshold="high"),
        WRONG_TYPE,
        "passed_to_the_layers",
    ),
    _case(
        models.lenet5_caffe,
        "num_classes",
        lambda c: models.lenet5_caffe(num_classes="10"),
        WRONG_TYPE,
    ),
    _case(
        models.lenet5_caffe,
        "filters",
        lambda c: models.lenet5_caffe(filters=(20,)),
    ),
    _case(
        models.lenet5_caffe,
        "input_shape",
        lambda c: models.lenet5_caffe(input_shape=(28, 28)),
    ),
    _case(models.vgg_like, "width", lambda c: models.vgg_like(width=0)),
    _case(
        models.vgg_like,
        "num_classes",
        lambda c: models.vgg_like(num_classes=0),
    ),
    _case(
        models.mc_dropout_cnn,
        "conv_rate",
        lambda c: models.mc_dropout_cnn(conv_rate=1.5),
    ),
    _case(
        models.mc_dropout_cnn,
        "hidden_rate",
        lambda c: models.mc_dropout_cnn(hidden_rate=-0.1),
    ),
    _case(
        models.mc_dropout_cnn,
        "hidden_units",
        lambda c: models.mc_dropout_cnn(hidden_units=0),
    ),
    _case(
        models.mc_dropout_cnn,
        "num_classes",
        lambda c: models.mc_dropout_cnn(num_classes=0),
    ),
    _case(
        models.mc_dropout_cnn,
        "seed",
        lambda c: models.mc_dropout_cnn(seed="a"),
        WRONG_TYPE,
    ),
    # -- Tuner ----------------------------------------------------------------
    _case(
        tuner.SparseVDHyperModel,
        "family",
        lambda c: tuner.SparseVDHyperModel(_MNIST_LIKE, 10, 100, "resnet"),
    ),
    _case(
        tuner.SparseVDHyperModel,
        "num_classes",
        lambda c: tuner.SparseVDHyperModel(_MNIST_LIKE, 1, 100),
    ),
    _case(
        tuner.SparseVDHyperModel,
        "num_train_examples",
        lambda c: tuner.SparseVDHyperModel(_MNIST_LIKE, 10, 0),
    ),
    _case(
        tuner.SparseVDHyperModel,
        "input_shape",
        lambda c: tuner.SparseVDHyperModel((28, 28), 10, 100, "lenet5"),
    ),
    _case(
        tuner.SparseVDHyperModel,
        "tradeoff_weight",
        lambda c: tuner.SparseVDHyperModel(
            _MNIST_LIKE, 10, 100, tradeoff_weight=-1.0
        ),
    ),
    _case(
        tuner.TradeoffScores,
        "weight",
        lambda c: tuner.TradeoffScores(weight=-1.0),
    ),
    _case(
        tuner.TradeoffScores,
        "min_compression",
        lambda c: tuner.TradeoffScores(min_compression=0.5),
    ),
    _case(
        tuner.TradeoffScores,
        "max_compression",
        lambda c: tuner.TradeoffScores(max_compression=1.0),
    ),
    _case(
        tuner.TradeoffScores,
        "warmup_epochs",
        lambda c: tuner.TradeoffScores(warmup_epochs=-1),
    ),
    _case(
        tuner.TradeoffScores,
        "chance_accuracy",
        lambda c: tuner.TradeoffScores(chance_accuracy=1.0),
    ),
    _case(
        tuner.TradeoffScores,
        "monitor",
        lambda c: tuner.TradeoffScores(monitor=""),
    ),
    _case(
        tuner.pareto_front,
        "tuner_or_directory",
        lambda c: tuner.pareto_front(3),
        WRONG_TYPE,
    ),
    _case(
        tuner.pareto_front,
        "tuner_or_directory",
        lambda c: tuner.pareto_front(c.missing),
        MISSING,
        "missing",
    ),
    _case(
        tuner.pareto_front,
        "tuner_or_directory",
        lambda c: tuner.pareto_front(c.folder),
        label="no_trial",
    ),
    _case(
        tuner.run_search,
        "validation_data",
        lambda c: tuner.run_search(_X, _Y, None, directory=c.folder),
        WRONG_TYPE,
    ),
    _case(
        tuner.run_search,
        "y",
        lambda c: tuner.run_search(_X, _Y[:3], (_X, _Y), directory=c.folder),
        label="fewer_labels",
    ),
    _case(
        tuner.run_search,
        "objective",
        lambda c: tuner.run_search(
            _X, _Y, (_X, _Y), objective="accuracy", directory=c.folder
        ),
    ),
    _case(
        tuner.run_search,
        "tuner",
        lambda c: tuner.run_search(
            _X, _Y, (_X, _Y), tuner="grid", directory=c.folder
        ),
    ),
    _case(
        tuner.run_search,
        "max_trials",
        lambda c: tuner.run_search(
            _X, _Y, (_X, _Y), max_trials=0, directory=c.folder
        ),
    ),
    _case(
        tuner.run_search,
        "directory",
        lambda c: tuner.run_search(_X, _Y, (_X, _Y), directory=3),
        WRONG_TYPE,
    ),
]

# Public callables without a row, and why.
NOT_CATALOGUED = {
    "BaseVariational": "abstract; its arguments are those of its two "
    "subclasses, catalogued above",
    "VariationalProtocol": "a typing.Protocol, never called",
    "MCPrediction": "a result dataclass that mc_predict fills",
    "CompactionReport": "a result dataclass that compact fills",
    "LoadedDataset": "a result dataclass that load fills",
    "DatasetUnavailableError": "an exception",
    "SourceDirNotFoundError": "an exception",
    "KLSchedule": "abstract base of the schedules catalogued above",
    "default_mnist_dir": "takes no argument",
    "default_fashion_mnist_dir": "takes no argument",
    "plot_pareto_front": "draws what pareto_front returns; its arguments "
    "are checked by pareto_front, catalogued above",
    "to_variational": "being added; its own tests cover its arguments",
}
# Subpackages whose public callables the catalogue covers.
CATALOGUED_MODULES = (
    keras_svd,
    layers,
    callbacks,
    schedules,
    datasets,
    models,
    tuner,
)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """Tiny models and files shared by the rows."""
    folder = tmp_path_factory.mktemp("catalogue")
    variational = keras.Sequential(
        [
            keras.Input((4,)),
            layers.VariationalDense(3, name="hidden"),
            layers.VariationalDense(2, name="logits"),
        ],
        name="variational",
    )
    sparse_file = folder / "model.npz"
    keras_svd.save_sparse(variational, sparse_file)
    corrupt_file = folder / "corrupt.bin"
    corrupt_file.write_bytes(b"\x1f\x8bnot gzip, not IDX")
    empty = folder / "empty"
    empty.mkdir()
    return types.SimpleNamespace(
        variational=variational,
        plain=keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(2)], name="plain"
        ),
        softmax=keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(2, activation="softmax")],
            name="softmax",
        ),
        one_output=keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(1)], name="one_output"
        ),
        unbuilt=keras.Sequential(
            [layers.VariationalDense(2, name="lazy_dense")], name="unbuilt"
        ),
        folder=empty,
        missing=folder / "missing",
        new_file=folder / "new.npz",
        sparse_file=sparse_file,
        corrupt_file=corrupt_file,
    )


@pytest.mark.parametrize("target, argument, call, errors", CASES)
def test_wrong_argument_raises_naming_it(ctx, target, argument, call, errors):
    with pytest.raises(Exception) as info:
        call(ctx)

    assert isinstance(info.value, errors), (
        f"{type(info.value).__name__} instead of "
        f"{' or '.join(e.__name__ for e in errors)}: {info.value}"
    )
    message = str(info.value)
    assert argument in message
    # Keras's wording: the argument, then its value, after "Received:".
    assert re.search(
        rf"Received:.*\b{re.escape(argument)}\b", message, re.S
    ), message


def test_the_catalogue_has_the_rows_it_needs():
    assert len(CASES) >= 60
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_the_catalogue_covers_every_public_callable():
    catalogued = {case.values[0] for case in CASES}
    missing = []
    for module in CATALOGUED_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if (
                isinstance(value, types.ModuleType)
                or not callable(value)
                or name in NOT_CATALOGUED
            ):
                continue
            if value not in catalogued:
                missing.append(f"{module.__name__}.{name}")
    assert not missing, (
        "public callables without a row in CASES (or a reason in "
        f"NOT_CATALOGUED): {missing}"
    )


def test_the_reasons_name_public_callables():
    public = {
        name for module in CATALOGUED_MODULES for name in module.__all__
    }
    # A name may be on its way in: to_variational is being added.
    stale = set(NOT_CATALOGUED) - public - {"to_variational"}
    assert not stale, stale
