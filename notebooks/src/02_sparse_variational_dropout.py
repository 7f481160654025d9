# %% [markdown]
# # Sparse Variational Dropout: LeNet-300-100 and LeNet-5-Caffe
#
# [keras-svd](https://github.com/keras-svd/keras-svd) notebook 2 of 4.
# Sparse Variational Dropout (Molchanov, Ashukha & Vetrov, ICML 2017) learns
# a dropout rate per weight, alpha = sigma^2 / theta^2; weights whose
# log alpha exceeds 3 are pruned. `keras_svd.layers.VariationalDense` and
# `VariationalConv2D` train it inside an ordinary `model.fit`, with the KL
# term added through `add_loss` and its weight annealed by
# `keras_svd.callbacks.KLAnnealing`. We train the paper's two MNIST networks,
# watch the sparsity grow, compare with the paper's Table 1, and look at
# which weights survive.
#
# **Runtime.** Pick a GPU runtime on Colab. The full setting
# (`QUICK = False`: the paper's recipe, 200 epochs per network) takes hours
# even on a GPU (about 85 and 110 minutes per network on a 2-core CPU with
# TensorFlow); the committed 200-epoch histories are plotted below in any
# setting. `QUICK = True` (3 epochs of the quick recipe on 20,000 images,
# LeNet-5-Caffe on 10,000) runs in about 2 minutes on a 2-core CPU.
#
# *The outputs stored in this file come from the QUICK setting, run headless
# on a 2-core x86-64 CPU (TensorFlow backend) on 2026-11-29.*

# %% [setup]

# %% [parameters]
QUICK = False

# %%
EPOCHS = 3 if QUICK else 200
RECIPE = "quick" if QUICK else "paper"
TRAIN_SIZE = 20_000 if QUICK else 60_000
LENET5_TRAIN_SIZE = 10_000 if QUICK else 60_000

import pathlib
import urllib.request

import matplotlib.pyplot as plt
import numpy as np

from keras_svd import recipes
from keras_svd import training

keras.utils.set_random_seed(0)
(x_train, y_train), (x_test, y_test) = keras_svd.datasets.load_numpy(
    "mnist", download=True)

# %% [markdown]
# ## Training with the paper's recipe
#
# `keras_svd.recipes.get_recipe` holds the paper's recipe (Adam 1e-3,
# batch 100, KL weight 0 for 5 epochs then linear to 1 at epoch 20,
# `train_clip`); `training.run_recipe` compiles, fits with `KLAnnealing`,
# `SparsityMonitor` and the learning-rate schedule, and evaluates. Its
# `history.csv` holds the KL weight and the sparsity, of the whole network
# and of each layer, per epoch.

# %%
def train(model_name, train_size):
    recipe = recipes.get_recipe(RECIPE, model_name, epochs=EPOCHS)
    model = training.build_model(model_name, (28, 28, 1), 10,
                                 train_clip=recipe.train_clip)
    result = training.run_recipe(
        model, recipe, (x_train[:train_size], y_train[:train_size]),
        (x_test, y_test), num_train_examples=train_size,
        dataset_name="mnist", model_name=model_name,
        output=f"outputs/{model_name}", verbose=0,
    )
    return model, result

lenet300, result300 = train("lenet-300-100", TRAIN_SIZE)
lenet5, result5 = train("lenet5-caffe", LENET5_TRAIN_SIZE)
for result in (result300, result5):
    print(f"{result['model']}: test error {result['test_error_percent']:.2f}%, "
          f"compression {result['compression']:.1f}x")

# %% [markdown]
# ## Sparsity over the epochs
#
# `keras_svd.plots.plot_training_history` reads a Keras `History` or a
# `history.csv`. First this run's, then the committed 200-epoch runs of
# `benchmarks/reproduce_mnist.py` (read from the repository).

# %%
for name in ("lenet-300-100", "lenet5-caffe"):
    fig = keras_svd.plots.plot_training_history(f"outputs/{name}/history.csv")
    fig.suptitle(f"{name}, this run: sparsity per layer")
    plt.show()

# %%
def committed(path):
    """A file of the repository: the local checkout, else GitHub."""
    local = pathlib.Path("..") / path
    if local.exists():
        return str(local)
    target = pathlib.Path("outputs") / path
    target.parent.mkdir(parents=True, exist_ok=True)
    urllib.request.urlretrieve(
        f"https://raw.githubusercontent.com/{REPOSITORY}/main/{path}", target)
    return str(target)

for name, path in [
    ("LeNet-300-100", "benchmarks/results/lenet-300-100/history.csv"),
    ("LeNet-5-Caffe", "benchmarks/results/200-epochs/lenet5-caffe/history.csv"),
]:
    fig = keras_svd.plots.plot_training_history(committed(path))
    fig.suptitle(f"{name}, 200 epochs of the paper's recipe (committed run)")
    plt.show()

# %% [markdown]
# The sparsity rises as soon as the KL weight does, and keeps rising long
# after the KL weight has reached 1, while the learning rate decays.
#
# ## Beside the paper

# %%
for result in (result300, result5):
    paper = recipes.PAPER_RESULTS[result["model"]]
    print(f"{result['model']} ({result['epochs']} epochs) | ours | paper")
    print(f"  test error %         | {result['test_error_percent']:6.2f} | "
          f"{paper['test_error_percent']:6.2f}")
    for row, ref in zip(result["layers"], paper["sparsity_percent"]):
        print(f"  sparsity % {row['layer']:<10}| "
              f"{row['sparsity_percent']:6.1f} | {ref:6.1f}")
    print(f"  compression          | {result['compression']:6.1f} | "
          f"{paper['compression']:6.1f}")
for name in ("lenet-300-100", "200-epochs/lenet5-caffe"):
    print(f"\n200-epoch run ({name}):")
    print(pathlib.Path(committed(f"benchmarks/results/{name}/table.md")).read_text())

# %% [markdown]
# ## Which weights survive
#
# Each of the first layer's units reads the 28x28 image through its column of
# 784 weights. `keras_svd.plots.plot_weight_masks` draws those columns as
# images, pruned weights blank: the surviving units look at strokes in the
# centre of the image, and the border pixels, never used by any digit, are
# pruned everywhere. For LeNet-5-Caffe the first convolution's 5x5 filters.

# %%
fig = keras_svd.plots.plot_weight_masks(lenet300, "dense_300", max_panels=40)
plt.show()
fig = keras_svd.plots.plot_weight_masks(lenet5, "conv_20")
plt.show()

# %% [markdown]
# ## log alpha
#
# The histogram of log alpha per layer, with the threshold 3: training
# pushes most weights far above it (pruned) and keeps a few far below.

# %%
fig = keras_svd.plots.plot_log_alpha_histograms(lenet300)
plt.show()

# %% [markdown]
# ## What the pruned network still gets right
#
# The pruned network is the variational model at inference (the mask
# applied); `keras_svd.strip_variational` gives it as plain Keras layers and
# `keras_svd.compact` removes the units that pruning left dead.

# %%
stripped = keras_svd.strip_variational(lenet300)
small, report = keras_svd.compact(stripped)
print(report)
logits = small.predict(x_test, verbose=0)
predicted = logits.argmax(axis=1)
print(f"compact LeNet-300-100: {small.count_params():,} parameters "
      f"(dense: {stripped.count_params():,}), test accuracy "
      f"{100 * np.mean(predicted == y_test):.2f}%")
wrong = np.flatnonzero(predicted != y_test)[:8]
fig, axes = plt.subplots(1, len(wrong), figsize=(1.6 * len(wrong), 2))
for ax, i in zip(np.atleast_1d(axes), wrong):
    ax.imshow(x_test[i, :, :, 0], cmap="gray_r")
    ax.set_title(f"{y_test[i]} read as {predicted[i]}", fontsize=8)
    ax.axis("off")
fig.suptitle("Test digits the pruned LeNet-300-100 gets wrong")
plt.show()
