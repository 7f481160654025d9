"""The training recipes: the paper's (from the authors' code) and a quick one."""

import dataclasses

from keras_svd import schedules
from keras_svd.validation import check_positive_int

# The paper's Table 1 (Molchanov, Ashukha & Vetrov, ICML 2017), for reference.
PAPER_RESULTS = {
    "lenet-300-100": {
        "test_error_percent": 1.92,
        "sparsity_percent": [98.9, 97.2, 62.0],
        "compression": 68,
    },
    "lenet5-caffe": {
        "test_error_percent": 0.75,
        "sparsity_percent": [67.0, 98.0, 99.8, 95.0],
        "compression": 280,
    },
}

RECIPE_NAMES = ("paper", "quick")


@dataclasses.dataclass(frozen=True)
class TrainingRecipe:
    """How a model is trained: optimizer, schedules, epochs, batch size.

    Attributes:
        name: `"paper"` or `"quick"`.
        epochs: number of epochs.
        batch_size: examples per step.
        learning_rate: Adam's initial learning rate (beta1 = 0.9).
        lr_decay: `"linear"` (linear to 0 over all epochs),
            `"half_then_linear"` (constant for the first half, then linear to
            0) or `"constant"`.
        kl_schedule: the KL-weight schedule (`keras_svd.schedules`).
        train_clip: whether the variational layers mask the training mean.
    """

    name: str
    epochs: int
    batch_size: int
    learning_rate: float
    lr_decay: str
    kl_schedule: object
    train_clip: bool

    def learning_rate_at(self, epoch):
        """The learning rate of epoch `epoch` (counted from 0)."""
        if self.lr_decay == "constant":
            return self.learning_rate
        if self.lr_decay == "linear":
            return self.learning_rate * (self.epochs - epoch) / self.epochs
        half = self.epochs // 2
        if epoch < half:
            return self.learning_rate
        return self.learning_rate * (self.epochs - epoch) / (self.epochs - half)


def get_recipe(name, model_name, epochs=None, batch_size=None):
    """Returns the `TrainingRecipe` for a model.

    The paper's recipe (from the authors' code): batch 100; Adam with
    beta1 = 0.9 and learning rate 1e-3; inputs in [0, 1]; KL weight 0 for
    epochs 0-4, then linear to 1 at epoch 20; `train_clip` on; 200 epochs.
    LeNet-300-100: learning rate constant to epoch 100, then linear to 0 at
    epoch 200. LeNet-5-Caffe (and the others): linear from 1e-3 to 0 over the
    200 epochs. The quick recipe: 3 epochs with the KL weight rising
    linearly from 0 to 1 over them, for tests and notebooks.

    Args:
        name: `"paper"` or `"quick"`.
        model_name: command-line model name (`"lenet-300-100"`, ...).
        epochs: overrides the number of epochs (the schedules scale with it).
        batch_size: overrides the batch size.

    Returns:
        A `TrainingRecipe`.
    """
    if name not in RECIPE_NAMES:
        raise ValueError(
            f"recipe must be one of {', '.join(RECIPE_NAMES)}. "
            f"Received: recipe={name!r}"
        )
    epochs = check_positive_int(epochs, "epochs", allow_none=True)
    batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
    batch_size = batch_size or 100
    if name == "paper":
        return TrainingRecipe(
            name="paper",
            epochs=epochs or 200,
            batch_size=batch_size,
            learning_rate=1e-3,
            lr_decay=(
                "half_then_linear" if model_name == "lenet-300-100" else "linear"
            ),
            kl_schedule=schedules.PaperWarmup(),
            train_clip=True,
        )
    epochs = epochs or 3
    return TrainingRecipe(
        name="quick",
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=1e-3,
        lr_decay="constant",
        kl_schedule=schedules.LinearWarmup(start=0, end=max(epochs - 1, 1)),
        train_clip=True,
    )


__all__ = ["PAPER_RESULTS", "RECIPE_NAMES", "TrainingRecipe", "get_recipe"]
