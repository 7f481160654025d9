# %% [markdown]
# # Dropout at test time: one network, many subnetworks
#
# [keras-svd](https://github.com/keras-svd/keras-svd) notebook 1 of 4. A
# LeNet-style CNN is trained with `keras_svd.PermaDropout`, a dropout layer
# that stays on at inference. Every prediction then runs a different random
# subnetwork; averaged over many of them (`keras_svd.mc_predict`) they give a
# predictive distribution and an uncertainty estimate (Gal & Ghahramani,
# 2016). We ask how much accuracy survives dropout at test time, where it
# breaks (rate 0.9 on a last hidden layer of 128 units), and whether the
# uncertainty tells errors and foreign images (Fashion-MNIST) apart.
#
# **Runtime.** Pick a GPU runtime on Colab (*Runtime > Change runtime type*).
# The full setting (`QUICK = False`: 60,000 training images, 5 epochs per
# model, 50 Monte-Carlo samples) takes about 3 minutes on a Colab T4 and
# about 25 minutes on a 2-core CPU; `QUICK = True` (10,000 images, 1 epoch,
# 20 samples) about 2 minutes on a 2-core CPU.
#
# *The outputs stored in this file come from the QUICK setting, run headless
# on a 2-core x86-64 CPU (TensorFlow backend) on 2026-11-29; the full figures
# are in `benchmarks/RESULTS.md`.*

# %% [setup]

# %% [parameters]
QUICK = False

# %%
TRAIN_SIZE = 10_000 if QUICK else 60_000
EPOCHS = 1 if QUICK else 5
SAMPLES = 20 if QUICK else 50
TEST_SIZE = 2_000 if QUICK else 10_000

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

keras.utils.set_random_seed(0)

# %% [markdown]
# ## Data
#
# `keras_svd.datasets.load_numpy` reads a local copy of MNIST when
# `KERAS_SVD_MNIST_DIR` points at one, and with `download=True` fetches it
# through TensorFlow Datasets otherwise (on Colab). Images are float32 in
# [0, 1], shape (28, 28, 1).

# %%
(x_train, y_train), (x_test, y_test) = keras_svd.datasets.load_numpy(
    "mnist", download=True)
(_, _), (x_fashion, _) = keras_svd.datasets.load_numpy(
    "fashion_mnist", download=True)
x_train, y_train = x_train[:TRAIN_SIZE], y_train[:TRAIN_SIZE]
x_test, y_test = x_test[:TEST_SIZE], y_test[:TEST_SIZE]
x_fashion = x_fashion[:TEST_SIZE]
print(x_train.shape, x_test.shape, x_fashion.shape)

# %% [markdown]
# ## Three networks
#
# `keras_svd.models.mc_dropout_cnn` is conv 20@5x5 - dropout - pool - conv
# 50@5x5 - dropout - pool - dense - dropout - dense 10, every dropout a
# `PermaDropout`. We train the blog experiment's three settings: 500 hidden
# units at rate 0.5 everywhere, rate 0.9 on the hidden layer, and 128 hidden
# units at rate 0.9.

# %%
SETTINGS = {
    "500 units, rate 0.5": dict(hidden_units=500, hidden_rate=0.5),
    "500 units, rate 0.9": dict(hidden_units=500, hidden_rate=0.9),
    "128 units, rate 0.9": dict(hidden_units=128, hidden_rate=0.9),
}
trained = {}
for name, kwargs in SETTINGS.items():
    model = keras_svd.models.mc_dropout_cnn(conv_rate=0.5, seed=0, **kwargs)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=128, epochs=EPOCHS, verbose=0)
    trained[name] = model
    print(f"{name}: trained")

# %% [markdown]
# ## Dropout on at test time against off
#
# "On" is one stochastic pass (one random subnetwork) and the Monte-Carlo
# mean of `SAMPLES` passes; "off" is the same weights with every
# `PermaDropout` replaced by the identity
# (`keras_svd.strip_variational(model, perma_dropout="identity")`), i.e. the
# usual deterministic network.

# %%
rows = {}
predictions = {}
for name, model in trained.items():
    one_pass = np.argmax(model.predict(x_test, verbose=0), axis=1)
    mc = keras_svd.mc_predict(model, x_test, samples=SAMPLES)
    off = keras_svd.strip_variational(model, perma_dropout="identity")
    dropout_off = np.argmax(off.predict(x_test, verbose=0), axis=1)
    predictions[name] = mc
    rows[name] = {
        "one pass (on)": np.mean(one_pass == y_test),
        f"MC mean of {SAMPLES} (on)": np.mean(mc.predicted_class == y_test),
        "dropout off": np.mean(dropout_off == y_test),
    }
print(f"{'test accuracy %':<22}" + "".join(f"{c:>24}" for c in rows[name]))
for name, row in rows.items():
    print(f"{name:<22}" + "".join(f"{100 * v:>24.2f}" for v in row.values()))

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
width = 0.25
for i, column in enumerate(rows[name]):
    values = [100 * rows[n][column] for n in rows]
    ax.bar(np.arange(len(rows)) + (i - 1) * width, values, width, label=column)
ax.set_xticks(np.arange(len(rows)), list(rows))
ax.set_ylim(80, 100)
ax.set_ylabel("test accuracy (%)")
ax.set_xlabel("network")
ax.set_title("Accuracy with dropout on at test time and off")
ax.legend(loc="lower left", fontsize=8)
plt.show()

# %% [markdown]
# One random subnetwork of the wide network is nearly as good as the whole:
# many good subnetworks exist inside it. At rate 0.9 on only 128 hidden units
# a single pass keeps about 13 units and breaks down, but the average of many
# passes (and the deterministic network) still works: the damage is in each
# subnetwork, not in the weights.
#
# ## The spread of the predictions for single digits
#
# `keras_svd.plots.plot_mc_spread` draws, for a few test images, the class
# probabilities of every stochastic pass (dots) and their mean (red bar),
# here for the network with rate 0.9 on its hidden layer: the two test
# digits of lowest and the two of highest predictive entropy. A narrow
# strip is a confident network; a wide one is uncertain.

# %%
model = trained["500 units, rate 0.9"]
mc = predictions["500 units, rate 0.9"]
order = np.argsort(mc.predictive_entropy)
picks = np.concatenate([order[:2], order[-2:]])  # most and least certain
fig = keras_svd.plots.plot_mc_spread(model, x_test[picks], num_samples=SAMPLES)
fig.suptitle("500 units, rate 0.9: the two most and the two least certain "
             "test digits")
plt.show()

# %% [markdown]
# ## Does the uncertainty mean something?
#
# For the first network we score each image by the predictive entropy
# H[p] and by the mutual information between prediction and subnetwork
# (BALD), both from `mc_predict`, and ask how well each score separates
# correct from misclassified test digits, and MNIST from Fashion-MNIST
# clothes the network has never seen (the AUROC: 0.5 is chance, 1 a perfect
# ranking).

# %%
model = trained["500 units, rate 0.5"]
mc = predictions["500 units, rate 0.5"]
fashion = keras_svd.mc_predict(model, x_fashion, samples=SAMPLES)
wrong = mc.predicted_class != y_test
groups = {
    "correct": (mc, ~wrong),
    "misclassified": (mc, wrong),
    "Fashion-MNIST": (fashion, np.ones(len(x_fashion), bool)),
}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, score, label in zip(
    axes, ["predictive_entropy", "mutual_information"],
    ["predictive entropy (nats)", "mutual information (nats)"],
):
    for group, (result, where) in groups.items():
        ax.hist(getattr(result, score)[where], bins=40, density=True,
                histtype="step", label=f"{group} ({where.sum()})")
    ax.set_yscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("density (log scale)")
    ax.set_title(label.split(" (")[0].capitalize())
    ax.legend(fontsize=8)
plt.show()

for score in ["predictive_entropy", "mutual_information"]:
    errors = roc_auc_score(wrong, getattr(mc, score)) if wrong.any() else np.nan
    ood = roc_auc_score(
        np.r_[np.zeros(len(x_test)), np.ones(len(x_fashion))],
        np.r_[getattr(mc, score), getattr(fashion, score)],
    )
    print(f"{score:<20} AUROC errors vs correct: {errors:.3f}   "
          f"Fashion-MNIST vs MNIST: {ood:.3f}")

# %% [markdown]
# Both scores rank misclassified digits and clothes well above the correct
# digits: the network knows, to a useful degree, when it does not know.
# `benchmarks/uncertainty.py` measures the same on the full test sets, with
# rotated digits and noise as further foreign inputs.
