"""Data-parallel training: a distribution by name, and who writes the files.

Three ways to train one model on several devices, each a name that
`keras-svd train --distribution` takes too:

- `"none"`: one device (Keras's default).
- `"mirrored"` (TensorFlow): `tf.distribute.MirroredStrategy` over the local
  GPUs, else over every logical CPU device.
- `"data-parallel"` (JAX): `keras.distribution.DataParallel` over
  `keras.distribution.list_devices()`, every device of every process; for
  several processes call `initialize` first, in each of them.

The KL term needs nothing special under any of them: a variational layer
adds `beta * KL / N` once per step of the global batch (Keras scales the
losses of `add_loss` by the replicas under `tf.distribute`; JAX runs one
program over the global batch), as long as N, set with
`keras_svd.set_num_train_examples`, is the size of the whole training set,
not of one process's shard.

Files (checkpoints, CSV logs, TensorBoard summaries, reports) are written by
one process only, the chief (`is_chief`): process 0 of a multi-process JAX
job, the only process otherwise. `SparsityMonitor(log_dir=...)`,
`KLAnnealing(verbose=1)` and `keras_svd.training` follow it; the callbacks
still measure in every process, since on JAX each measurement is a
computation all processes take part in. `save_model` saves from the chief,
`shard_dataset` gives a process its part of every batch of a pipeline, and
`chief_first` lets the chief prepare files the others then read.
"""

import contextlib

import keras

NONE = "none"
MIRRORED = "mirrored"
DATA_PARALLEL = "data-parallel"
DISTRIBUTIONS = (NONE, MIRRORED, DATA_PARALLEL)

# The backend each distribution needs (none: any).
_BACKENDS = {MIRRORED: "tensorflow", DATA_PARALLEL: "jax"}
_WHAT = {
    MIRRORED: "tf.distribute.MirroredStrategy",
    DATA_PARALLEL: "keras.distribution.DataParallel",
}


class DistributionUnavailableError(ValueError):
    """The Keras backend cannot train with the distribution asked for."""


def _backend(backend):
    return keras.backend.backend() if backend is None else backend


def check_distribution(name, backend=None, multi_process=False):
    """Raises when `backend` cannot train with the distribution `name`.

    Args:
        name: one of `DISTRIBUTIONS`.
        backend: a Keras backend name; default: the current one.
        multi_process: whether several processes train together (JAX's
            `data-parallel` only).

    Raises:
        ValueError: for an unknown `name`.
        DistributionUnavailableError: (a `ValueError`) when the backend
            cannot do it; the message names the distribution, the backend
            and what works instead.
    """
    if name not in DISTRIBUTIONS:
        raise ValueError(
            f"distribution must be one of {', '.join(DISTRIBUTIONS)}. "
            f"Received: distribution={name!r}"
        )
    backend = _backend(backend)
    needed = _BACKENDS.get(name)
    if needed is not None and backend != needed:
        alternative = {
            "tensorflow": "'mirrored' (one machine)",
            "jax": "'data-parallel' (one machine or several processes)",
        }.get(backend, "none: Keras's fit has no data parallelism on "
              f"{backend}")
        raise DistributionUnavailableError(
            f"{name!r} ({_WHAT[name]}) needs the {needed} backend, but the "
            f"Keras backend is {backend}; set KERAS_BACKEND={needed}, or use "
            f"{alternative}."
        )
    if multi_process and name != DATA_PARALLEL:
        raise DistributionUnavailableError(
            f"several processes need {DATA_PARALLEL!r} on the jax backend "
            f"(Received: {name!r}, the backend is {backend}); TensorFlow's "
            "MultiWorkerMirroredStrategy does not work with Keras 3's fit "
            "(keras-team/keras#20585)."
        )


def initialize(coordinator=None, num_processes=None, process_id=None):
    """Joins a multi-process JAX job (one process per host, or several).

    Call it first in every process, before anything runs on JAX, with the
    same `coordinator` and `num_processes` and the process's own
    `process_id`. It calls `keras.distribution.initialize`, which starts
    `jax.distributed` and gives every process the same Keras seed; on CPU
    the processes exchange data through JAX's gloo collectives (set here
    unless `jax_cpu_collectives_implementation` is already chosen). An
    argument left None comes from `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
    `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`,
    or on a cloud TPU from its environment.

    Args:
        coordinator: `"host:port"` of process 0 (it listens there).
        num_processes: the number of processes of the job.
        process_id: this process's index, 0 to `num_processes - 1`.

    Raises:
        DistributionUnavailableError: on a backend other than JAX.

    Example:

    ```python
    # In process i of 2 (process 0 on host-a):
    keras_svd.distribution.initialize("host-a:1234", 2, i)
    with keras_svd.distribution.scope("data-parallel"):
        model = keras_svd.models.lenet_300_100()
        ...
    ```
    """
    check_distribution(DATA_PARALLEL, multi_process=True)
    import jax

    if not jax.config.jax_cpu_collectives_implementation:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(
        job_addresses=coordinator,
        num_processes=num_processes,
        process_id=process_id,
    )


def process_index():
    """This process's index in a multi-process JAX job (0 otherwise)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.process_index()
    return 0


def process_count():
    """The number of processes of a multi-process JAX job (1 otherwise)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.process_count()
    return 1


def is_chief():
    """Whether this process writes the files: process 0, or the only one.

    On JAX this asks `jax.process_index()`, which starts JAX's backend: in
    a multi-process job call it after `initialize`.
    """
    return process_index() == 0


def check_batches(name, batch_size, sizes):
    """Raises when `data-parallel` cannot split the batches of a data set.

    `keras.distribution.DataParallel` splits every global batch evenly over
    the devices, and in a multi-process job over the processes (each reads
    its part of every batch): a batch that does not split would fail in
    JAX, and a short last batch would leave the processes with different
    numbers of steps, waiting for each other.

    Args:
        name: one of `DISTRIBUTIONS` (only `data-parallel` is checked).
        batch_size: the global batch size.
        sizes: a dict, name -> number of examples (e.g. `train_size`).

    Raises:
        ValueError: naming the size that does not split.
    """
    if name != DATA_PARALLEL:
        return
    devices = len(keras.distribution.list_devices())
    processes = process_count()
    if batch_size % devices:
        raise ValueError(
            f"data-parallel splits every batch over the {devices} devices: "
            f"the batch size must be a multiple of {devices}. "
            f"Received: batch_size={batch_size}"
        )
    for size_name, size in sizes.items():
        last = size % batch_size
        if processes > 1 and last:
            raise ValueError(
                f"In a job of {processes} processes every batch must be "
                f"whole: {size_name} must be a multiple of the batch size "
                f"{batch_size}. Received: {size_name}={size}"
            )
        if last % devices:
            raise ValueError(
                f"data-parallel splits every batch over the {devices} "
                f"devices, but the last batch of {size_name}={size} has "
                f"{last} examples; choose a size whose remainder by the "
                f"batch size {batch_size} is a multiple of {devices}."
            )


@contextlib.contextmanager
def chief_first(name="keras_svd.chief_first"):
    """Runs the block in the chief, then in the other processes of a job.

    For files that every process reads and the first one prepares (a TFDS
    copy of local IDX files): the others wait at a barrier until the chief
    is done. Outside a multi-process job it just runs the block.

    Args:
        name: the barrier's name, the same in every process.
    """
    if process_count() == 1:
        yield
        return
    from jax.experimental import multihost_utils

    if not is_chief():
        multihost_utils.sync_global_devices(name)
    yield
    if is_chief():
        multihost_utils.sync_global_devices(name)


def save_model(model, filepath, **kwargs):
    """`model.save(filepath)` in the chief; nothing in the other processes.

    Call it in every process. Keras's saving makes throwaway variables (a
    dummy optimizer), and under a `keras.distribution` each new variable is
    placed on every device of the job, a computation that all processes
    must join: saved from the chief alone inside the distribution, the
    chief would wait for the others forever. This saves with no
    distribution set (the weights are replicated: the chief has them all).

    Args:
        model: the model to save.
        filepath: the `.keras` file.
        **kwargs: passed to `model.save`.
    """
    if not is_chief():
        return
    current = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        model.save(filepath, **kwargs)
    finally:
        keras.distribution.set_distribution(current)


def _mirrored_strategy():
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or (
        tf.config.list_logical_devices("CPU")
    )
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def get(name, auto_shard_dataset=True):
    """The strategy or distribution of `name` (None for `"none"`).

    Args:
        name: one of `DISTRIBUTIONS`.
        auto_shard_dataset: for `data-parallel` in a multi-process job,
            whether Keras gives each process its part of every batch of a
            `tf.data` pipeline (False: the data are sharded already, e.g.
            arrays, or a pipeline passed through `shard_dataset`).

    Returns:
        None, a `tf.distribute.MirroredStrategy` over the local GPUs (else
        every logical CPU device) or a `keras.distribution.DataParallel`
        over every device of the job.

    Raises:
        DistributionUnavailableError: when the backend cannot do it.
    """
    check_distribution(name)
    if name == MIRRORED:
        return _mirrored_strategy()
    if name == DATA_PARALLEL:
        return keras.distribution.DataParallel(
            devices=keras.distribution.list_devices(),
            auto_shard_dataset=auto_shard_dataset,
        )
    return None


def shard_dataset(dataset, batch_size):
    """This process's part of every global batch of a batched `tf.data` set.

    What `keras.distribution.DataParallel` does with a pipeline in a
    multi-process job (a rebatch to `batch_size / processes`, then every
    `processes`-th batch from this process's index), for pipelines whose
    batch size Keras cannot find (a `map` after `batch`, as in
    `keras_svd.datasets.load`); train with `auto_shard_dataset=False`.
    Every process must see the batches in the same order (the same shuffle
    seed). Outside a multi-process job it returns `dataset`.

    Args:
        dataset: a `tf.data.Dataset` of global batches.
        batch_size: the global batch size, a multiple of the processes.

    Returns:
        The dataset of this process's parts.
    """
    processes = process_count()
    if processes == 1:
        return dataset
    if batch_size % processes:
        raise ValueError(
            f"The batch size must be a multiple of the {processes} "
            f"processes. Received: batch_size={batch_size}"
        )
    import tensorflow as tf

    batches = int(dataset.cardinality())
    sharded = dataset.rebatch(batch_size // processes).shard(
        processes, process_index()
    )
    if batches >= 0:
        # One part of every global batch: Keras then knows the steps.
        cardinality = tf.data.experimental.assert_cardinality(batches)
        sharded = sharded.apply(cardinality)
    return sharded


@contextlib.contextmanager
def scope(name, auto_shard_dataset=True):
    """Builds, compiles, trains and evaluates inside the distribution `name`.

    Everything from the model's construction to its last `evaluate` goes
    inside: the variables are made where the distribution puts them, and on
    JAX `fit` reads the distribution when it runs.

    Args:
        name: one of `DISTRIBUTIONS`.
        auto_shard_dataset: see `get`.

    Yields:
        The object of `get(name)` (None for `"none"`).

    Example:

    ```python
    with keras_svd.distribution.scope("mirrored"):
        model = keras_svd.models.lenet_300_100()
        keras_svd.set_num_train_examples(model, len(x_train))
        model.compile(...)
        model.fit(x_train, y_train, batch_size=100)
    ```
    """
    distribution = get(name, auto_shard_dataset=auto_shard_dataset)
    if distribution is None:
        yield None
        return
    with distribution.scope():
        yield distribution


__all__ = [
    "DATA_PARALLEL",
    "DISTRIBUTIONS",
    "DistributionUnavailableError",
    "MIRRORED",
    "NONE",
    "check_batches",
    "check_distribution",
    "chief_first",
    "get",
    "initialize",
    "is_chief",
    "process_count",
    "process_index",
    "save_model",
    "scope",
    "shard_dataset",
]
