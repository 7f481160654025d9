# %% [markdown]
# # Tuning the accuracy / compression trade-off with keras-tuner
#
# [keras-svd](https://github.com/keras-svd/keras-svd) notebook 3 of 4. Sparse
# VD trades accuracy for compression through a few choices: the width of the
# network, the KL warm-up, the pruning threshold, the learning rate.
# `keras_svd.tuner.SparseVDHyperModel` is a keras-tuner hypermodel over those
# choices, and `keras_svd.tuner.run_search` searches it with a
# `TradeoffScores` objective (accuracy plus a bonus for log-compression,
# recorded per trial); every trial's accuracy and compression are kept, so
# the Pareto front of the search can be drawn and one model chosen from it.
#
# **Runtime.** Pick a GPU runtime on Colab. The full setting (`QUICK = False`:
# 20 trials of 10 epochs on 50,000 images) takes about 20 minutes on a Colab
# T4 and several hours on a 2-core CPU; `QUICK = True` (4 trials of 2 epochs
# on 5,000 images) about 2 minutes on a 2-core CPU.
#
# *The outputs stored in this file come from the QUICK setting, run headless
# on a 2-core x86-64 CPU (TensorFlow backend) on 2026-11-29; a longer search
# is in `benchmarks/RESULTS.md` (`benchmarks/tuning.py`).*

# %% [setup]

# %% [parameters]
QUICK = False

# %%
TRIALS = 4 if QUICK else 20
EPOCHS = 2 if QUICK else 10
TRAIN_SIZE = 5_000 if QUICK else 50_000
VAL_SIZE = 2_000 if QUICK else 10_000

import matplotlib.pyplot as plt
import numpy as np

keras.utils.set_random_seed(0)
(x_all, y_all), (x_test, y_test) = keras_svd.datasets.load_numpy(
    "mnist", download=True)
x_train, y_train = x_all[:TRAIN_SIZE], y_all[:TRAIN_SIZE]
x_val, y_val = x_all[-VAL_SIZE:], y_all[-VAL_SIZE:]

# %% [markdown]
# ## The search
#
# A random search over the MLP family (LeNet-300-100-like networks) with the
# `"tradeoff"` objective (in QUICK mode with the KL warm-up fixed at one
# epoch, so that two epochs can prune at all). The search folder keeps every trial, so running the
# cell again resumes instead of starting over (`overwrite=True` starts
# afresh).

# %%
import keras_tuner

fixed = keras_tuner.HyperParameters()
if QUICK:
    # Two epochs leave no room for a warm-up of several epochs: the KL
    # weight would still be 0 and nothing would be pruned.
    fixed.Fixed("kl_warmup_epochs", 1)
search = keras_svd.tuner.run_search(
    x_train, y_train, (x_val, y_val), family="mlp", objective="tradeoff",
    tuner="random", max_trials=TRIALS, epochs=EPOCHS,
    hyperparameters=fixed, directory="outputs/tuning", overwrite=True,
    seed=0, verbose=0,
)
for point in search["pareto_front"]:
    print(f"val accuracy {point['val_accuracy']:.4f}  "
          f"compression {point['compression']:8.1f}x  "
          f"{point['hyperparameters']}")

# %% [markdown]
# ## The Pareto front
#
# Each dot is a trial; the red ones are Pareto-optimal: no other trial is
# both more accurate and more compressed.

# %%
fig = keras_svd.plots.plot_pareto_front(search["tuner"])
plt.show()

# %% [markdown]
# ## The chosen model, trained on
#
# We take the best trial by the trade-off score, rebuild its model from its
# hyperparameters and train it for longer on all the training images.

# %%
tuner = search["tuner"]
best_hp = tuner.get_best_hyperparameters(1)[0]
model = tuner.hypermodel.build(best_hp)
keras_svd.set_num_train_examples(model, len(x_all))
model.fit(
    x_all, y_all, batch_size=100, epochs=EPOCHS, verbose=0,
    callbacks=[keras_svd.callbacks.KLAnnealing(
        keras_svd.schedules.LinearWarmup(0, max(1, EPOCHS // 2)))],
)
accuracy = np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test)
print(f"chosen model: test accuracy {100 * accuracy:.2f}%, "
      f"compression {keras_svd.compression_ratio(model):.1f}x")
print(keras_svd.sparsity_table(keras_svd.measure_sparsity(model)))
