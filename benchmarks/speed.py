"""Training-step and inference time of the variational models vs the dense ones.

For LeNet-300-100 and LeNet-5-Caffe, builds the dense and the variational
(Sparse VD, `train_clip=True`) variant in one process, warms both up, then
times them interleaved: `--repeats` rounds, each timing `--steps` training
steps (`train_on_batch`, Adam, batch `--batch-size`, 100 by default) of the dense model and then of the
variational one, and the same for inference (`predict_on_batch` on a batch of
`--predict-batch` images, the variational model deterministic), and the
inference of the variational model exported by `keras_svd.strip_variational`
(plain Dense / Conv2D layers with the pruned kernels). With `--straightforward`
it also times the training step of the same model built from the obvious
Sparse VD layer (`straightforward.py`: autodiff, the backend's normal sampler),
the yardstick for the cost of `keras_svd`'s layers. Prints the median
per-step times and their ratios, and the command. Any backend:

    python benchmarks/speed.py
    KERAS_BACKEND=jax python benchmarks/speed.py --models lenet5-caffe
"""

import argparse
import os
import platform
import time

import numpy as np
import keras

import keras_svd
from keras_svd import models
from straightforward import straightforward_model
import provenance

BUILDERS = {
    "lenet-300-100": models.lenet_300_100,
    "lenet5-caffe": models.lenet5_caffe,
}


def _compiled(builder, variational, jit_compile):
    if variational:
        model = builder(variational=True, train_clip=True)
        keras_svd.set_num_train_examples(model, 60000)
    else:
        model = builder(variational=False)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def _time(fn, steps):
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def measure(
    name,
    steps,
    repeats,
    predict_batch,
    jit_compile,
    batch_size=100,
    straightforward=False,
):
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, batch_size)
    x_pred = rng.random((predict_batch, 28, 28, 1)).astype("float32")
    dense = _compiled(BUILDERS[name], False, jit_compile)
    variational = _compiled(BUILDERS[name], True, jit_compile)
    trained = [("dense", dense), ("variational", variational)]
    if straightforward:
        model = straightforward_model(BUILDERS[name](variational=False), 60000)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
        trained.append(("straightforward", model))
    for _, model in trained:  # Warm-up: trace and compile.
        for _ in range(3):
            model.train_on_batch(x, y)
            model.predict_on_batch(x_pred)
    stripped = keras_svd.strip_variational(variational)
    stripped.compile(jit_compile=jit_compile)
    for _ in range(3):
        stripped.predict_on_batch(x_pred)
    predictors = (
        ("dense", dense), ("variational", variational), ("stripped", stripped)
    )
    train = {key: [] for key, _ in trained}
    infer = {key: [] for key, _ in predictors}
    for _ in range(repeats):
        for key, model in trained:
            train[key].append(_time(lambda: model.train_on_batch(x, y), steps))
        for key, model in predictors:
            infer[key].append(
                _time(lambda: model.predict_on_batch(x_pred), steps)
            )
    med = {k: float(np.median(v)) for k, v in train.items()}
    med_inf = {k: float(np.median(v)) for k, v in infer.items()}
    # Ratios per round (interleaved), then the median.
    train_ratio = {
        key: float(np.median(np.array(times) / np.array(train["dense"])))
        for key, times in train.items()
    }
    infer_ratio = float(
        np.median(np.array(infer["variational"]) / np.array(infer["dense"]))
    )
    stripped_ratio = float(
        np.median(np.array(infer["stripped"]) / np.array(infer["dense"]))
    )
    return med, med_inf, train_ratio, infer_ratio, stripped_ratio


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models", nargs="+", default=sorted(BUILDERS), choices=sorted(BUILDERS)
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--predict-batch", type=int, default=1000)
    parser.add_argument(
        "--jit-compile", default="auto", choices=("auto", "true", "false")
    )
    parser.add_argument(
        "--straightforward",
        action="store_true",
        help="also time the training step with the straightforward layer",
    )
    args = parser.parse_args(argv)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    keras.utils.set_random_seed(0)
    print(
        f"backend {keras.backend.backend()}, keras {keras.__version__}, "
        f"{platform.machine()} with {os.cpu_count()} cores"
    )
    print(
        "| model | dense step ms | variational step ms | train ratio | "
        "dense predict ms | variational predict ms | inference ratio | "
        "stripped predict ms | stripped ratio |"
        + (
            " straightforward step ms | straightforward train ratio |"
            if args.straightforward
            else ""
        )
    )
    print(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        + (" ---: | ---: |" if args.straightforward else "")
    )
    for name in args.models:
        med, med_inf, train_ratio, infer_ratio, stripped_ratio = measure(
            name, args.steps, args.repeats, args.predict_batch, jit,
            args.batch_size, args.straightforward,
        )
        row = (
            f"| {name} | {1e3 * med['dense']:.2f} | "
            f"{1e3 * med['variational']:.2f} | "
            f"{train_ratio['variational']:.2f}x | "
            f"{1e3 * med_inf['dense']:.2f} | {1e3 * med_inf['variational']:.2f}"
            f" | {infer_ratio:.2f}x | {1e3 * med_inf['stripped']:.2f} | "
            f"{stripped_ratio:.2f}x |"
        )
        if args.straightforward:
            row += (
                f" {1e3 * med['straightforward']:.2f} | "
                f"{train_ratio['straightforward']:.2f}x |"
            )
        print(row)
    print("Command: " + provenance.command_line())


if __name__ == "__main__":
    main()
