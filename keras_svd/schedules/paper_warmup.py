"""`PaperWarmup`: the KL warm-up of Molchanov et al. (ICML 2017)."""

import keras

from keras_svd.schedules.linear_warmup import LinearWarmup

PAPER_START = 4
PAPER_END = 20


@keras.saving.register_keras_serializable(package="keras_svd")
class PaperWarmup(LinearWarmup):
    """Beta = 0 for epochs 0-4, linear to 1 at epoch 20, then 1.

    The warm-up used to train the LeNets of "Variational Dropout Sparsifies
    Deep Neural Networks" (Molchanov, Ashukha & Vetrov, ICML 2017): the
    network first fits the data without the KL term, then the KL weight
    grows linearly to 1 (the true ELBO). With `e` the epoch index from 0:

    ```
    beta(e) = clip((e - 4) / 16, 0, 1)
    ```

    so epochs 0, 1, 2, 3, 4 get exactly 0, epoch 5 gets 1/16 = 0.0625,
    epoch 12 gets 0.5 and epochs 20 and later get exactly 1: zero for the
    five epochs 0-4, one at epoch 20, and a single straight line between the
    last zero and the first one. It is `LinearWarmup(start=4, end=20)`.

    The authors' code computes `min(max(epoch - 5, 0) / 15, 1)`, which also
    reaches 1 at epoch 20 but keeps epoch 5 at 0 as well (six zero epochs
    when epochs count from 0); use `LinearWarmup(start=5, end=20)` to
    reproduce it exactly.

    Example:

    ```python
    keras_svd.set_num_train_examples(model, len(x_train))
    model.fit(
        x_train, y_train, epochs=200,
        callbacks=[keras_svd.callbacks.KLAnnealing(
            keras_svd.schedules.PaperWarmup())],
    )
    ```
    """

    def __init__(self):
        super().__init__(start=PAPER_START, end=PAPER_END, by="epoch")

    def get_config(self):
        return {}


__all__ = ["PaperWarmup"]
