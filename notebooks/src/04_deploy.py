# %% [markdown]
# # From a trained variational model to what ships
#
# [keras-svd](https://github.com/keras-svd/keras-svd) notebook 4 of 4. A
# trained Sparse VD network is mostly zeros, but as a variational model it
# still stores two numbers per weight and computes with all of them. This
# notebook takes it to deployable forms and measures each: the stripped
# model (`keras_svd.strip_variational`: plain `Dense` layers, pruned weights
# stored as zeros), the compact model (`keras_svd.compact`: dead units
# removed), the sparse file (`keras_svd.save_sparse`), a SavedModel
# (`model.export`) and a TFLite flatbuffer.
#
# **Runtime.** Any runtime; a CPU shows the latency a phone or a server CPU
# would see. The full setting (`QUICK = False`: LeNet-300-100, 30 epochs of
# the paper's recipe) takes about 5 minutes on a 2-core CPU; `QUICK = True`
# (5 epochs) about 2 minutes.
#
# *The outputs stored in this file come from the QUICK setting, run headless
# on a 2-core x86-64 CPU (TensorFlow backend) on 2026-11-29; the figures for
# 200-epoch models are in `benchmarks/RESULTS.md` (`benchmarks/export.py`).*

# %% [setup]

# %% [parameters]
QUICK = False

# %%
EPOCHS = 5 if QUICK else 30
REPEATS = 5 if QUICK else 15

import contextlib
import io
import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

from keras_svd import recipes
from keras_svd import training

keras.utils.set_random_seed(0)
(x_train, y_train), (x_test, y_test) = keras_svd.datasets.load_numpy(
    "mnist", download=True)
# QUICK: the quick recipe (KL weight linear from 0 to 1 over the epochs);
# else the paper's, whose warm-up keeps the KL weight at 0 for 5 epochs.
recipe = recipes.get_recipe("quick" if QUICK else "paper", "lenet-300-100",
                            epochs=EPOCHS)
model = training.build_model("lenet-300-100", (28, 28, 1), 10,
                             train_clip=recipe.train_clip)
result = training.run_recipe(
    model, recipe, (x_train, y_train), (x_test, y_test),
    num_train_examples=len(x_train), dataset_name="mnist",
    model_name="lenet-300-100", verbose=0,
)
print(f"variational LeNet-300-100: test error "
      f"{result['test_error_percent']:.2f}%, compression "
      f"{result['compression']:.1f}x")

# %% [markdown]
# ## Strip, compact, store sparsely

# %%
stripped = keras_svd.strip_variational(model, perma_dropout="identity")
small, report = keras_svd.compact(stripped)
print(report)

folder = tempfile.mkdtemp()
def size(path):
    return os.path.getsize(path) / 1e3

model.save(f"{folder}/variational.keras")
stripped.save(f"{folder}/stripped.keras")
small.save(f"{folder}/compact.keras")
keras_svd.save_sparse(stripped, f"{folder}/stripped.npz")
keras_svd.save_sparse(small, f"{folder}/compact.npz")
restored = keras_svd.load_sparse(f"{folder}/stripped.npz")
np.testing.assert_array_equal(restored.predict(x_test[:500], verbose=0),
                              stripped.predict(x_test[:500], verbose=0))
for name in ["variational.keras", "stripped.keras", "compact.keras",
             "stripped.npz", "compact.npz"]:
    print(f"{name:<20} {size(f'{folder}/{name}'):9.1f} kB")

# %% [markdown]
# The compact model computes the same outputs as the stripped one (up to
# float rounding) with a fraction of the parameters; the sparse file keeps
# only the nonzero weights and their positions.

# %%
np.testing.assert_allclose(small.predict(x_test, verbose=0),
                           stripped.predict(x_test, verbose=0),
                           rtol=1e-5, atol=1e-5)
for name, m in [("stripped", stripped), ("compact", small)]:
    accuracy = np.mean(m.predict(x_test, verbose=0).argmax(axis=1) == y_test)
    print(f"{name:<9} {m.count_params():>8,} parameters, "
          f"test accuracy {100 * accuracy:.2f}%")

# %% [markdown]
# ## SavedModel and TFLite (TensorFlow)
#
# Both are plain Keras models, so `model.export` writes a SavedModel and
# `tf.lite.TFLiteConverter` converts them. (With `PermaDropout` layers, strip
# with `perma_dropout="identity"` for TFLite: dropout's random ops are not
# TFLite ops.)

# %%
flatbuffers = {}
if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    for name, m in [("stripped", stripped), ("compact", small)]:
        m.export(f"{folder}/{name}_savedmodel", verbose=False)
        reloaded = tf.saved_model.load(f"{folder}/{name}_savedmodel")
        np.testing.assert_allclose(reloaded.serve(x_test[:100]).numpy(),
                                   m.predict(x_test[:100], verbose=0),
                                   rtol=1e-5, atol=1e-5)
        with contextlib.redirect_stdout(io.StringIO()):  # its export log
            flatbuffers[name] = tf.lite.TFLiteConverter.from_keras_model(
                m).convert()
        print(f"{name}: SavedModel reloads with equal outputs; TFLite "
              f"{len(flatbuffers[name]) / 1e3:.1f} kB")
else:
    print("SavedModel and TFLite export need the TensorFlow backend.")

# %% [markdown]
# ## Latency
#
# Median time of one `predict_on_batch` call (and one TFLite `invoke`) at
# batch 1 and batch 1,000, the models timed in turns. The dense baseline is
# the same architecture without pruning.

# %%
dense = keras_svd.models.lenet_300_100(variational=False)

def tflite_runner(flatbuffer, x):
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    def run():
        interpreter.set_tensor(index, x)
        interpreter.invoke()
    return run

def median_ms(runners, repeats=REPEATS, calls=10):
    times = {name: [] for name in runners}
    for run in runners.values():
        run()
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            times[name].append((time.perf_counter() - start) / calls * 1e3)
    return {name: float(np.median(t)) for name, t in times.items()}

latency = {}
for batch in (1, 1000):
    x = x_test[:batch]
    runners = {name: (lambda m=m, x=x: m.predict_on_batch(x))
               for name, m in [("dense", dense), ("stripped", stripped),
                               ("compact", small)]}
    for name, flatbuffer in flatbuffers.items():
        runners[f"{name} TFLite"] = tflite_runner(flatbuffer, x)
    latency[batch] = median_ms(runners)
    print(f"batch {batch}: " + ", ".join(
        f"{name} {ms:.3f} ms" for name, ms in latency[batch].items()))

# %%
sizes = {name: size(f"{folder}/{name}") for name in
         ["variational.keras", "stripped.keras", "compact.keras",
          "stripped.npz", "compact.npz"]}
sizes.update({f"{name} .tflite": len(b) / 1e3 for name, b in flatbuffers.items()})
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
left.barh(list(sizes), list(sizes.values()), color="tab:blue")
left.set_xscale("log")
left.set_xlabel("file size (kB, log scale)")
left.set_title("What each format stores")
right.barh(list(latency[1000]), list(latency[1000].values()), color="tab:red")
right.set_xlabel("median latency per call at batch 1,000 (ms)")
right.set_title("Inference time (this machine)")
fig.tight_layout()
plt.show()
