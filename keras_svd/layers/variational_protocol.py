"""`VariationalProtocol`: every name the keras-svd utilities call on a layer."""

import typing

from keras_svd.validation import check_bool

__all__ = ["VariationalProtocol", "is_variational", "missing_members"]


@typing.runtime_checkable
class VariationalProtocol(typing.Protocol):
    """What a layer implements to take part in the keras-svd utilities.

    `keras_svd.variational_layers` finds layers through this protocol
    (nested models included), and everything else reaches them only through
    these names: `set_num_train_examples`, `set_kl_weight` (so
    `KLAnnealing`), `sparsity_report`, `compression_ratio`,
    `SparsityMonitor`, `sampling_mode` and `mc_predict` (weight sampling),
    `strip_variational` and the `kl` log. `keras_svd.layers.BaseVariational`
    implements all of it; a layer that does not derive from it implements
    these members itself. A layer with some of the methods but not all is an
    error that names what is missing, never a silent skip.

    Attributes:
        threshold: the log alpha at and above which a weight is pruned.

    Methods:
        log_alpha(): the clipped log alpha of every weight (a float32
            tensor).
        kl_divergence(): the layer's KL(q || prior), summed (a scalar).
        pruning_mask(): 1.0 for a kept weight and 0.0 for a pruned one, the
            shape of `log_alpha()`.
        set_num_train_examples(n): sets N, the number of training examples
            that scales the KL term (may be called before the layer is
            built).
        set_kl_weight(beta): sets beta, the weight of the KL term (may be
            called before the layer is built).
        sampling_variable(): the float32 scalar `keras.Variable` that makes
            inference sample the weights when it holds 1.0 (and use the
            pruned mean at 0.0); read inside the compiled function, so a
            change needs no retracing. Raises `ValueError` when not built.
        kl_log_variable(): a float32 `keras.Variable` of shape `(3,)` that
            each training pass adds `[KL / N, beta * KL / N, 1]` to: the
            layer's summed KL over N, the loss term it added and the number
            of passes since it was last reset to zeros (`KLAnnealing` reads
            and resets it to log `kl` and `kl_loss`). Raises `ValueError`
            when not built.
        deterministic_layer(): a new plain Keras layer (for example a
            `Dense`) computing the layer's deterministic inference output,
            sharing no variables with it (`strip_variational`).

    Example:

    ```python
    layer = keras_svd.layers.VariationalDense(10)
    isinstance(layer, keras_svd.layers.VariationalProtocol)  # True
    ```
    """

    threshold: float

    def log_alpha(self): ...

    def kl_divergence(self): ...

    def pruning_mask(self): ...

    def set_num_train_examples(self, num_train_examples): ...

    def set_kl_weight(self, kl_weight): ...

    def sampling_variable(self): ...

    def kl_log_variable(self): ...

    def deterministic_layer(self): ...


# The protocol's methods, read off the class above in their order, so that
# the class stays the one definition.
_METHODS = tuple(
    name
    for name, value in vars(VariationalProtocol).items()
    if callable(value) and not name.startswith("_")
)
# A layer with any of these claims to be variational.
_MARKERS = ("log_alpha", "kl_divergence", "pruning_mask")


def missing_members(layer):
    """The protocol's names that `layer` lacks, in the protocol's order."""
    missing = [
        name for name in _METHODS if not callable(getattr(layer, name, None))
    ]
    if not hasattr(layer, "threshold"):
        missing.append("threshold")
    return missing


def is_variational(layer, strict=False):
    """Returns True when `layer` implements `VariationalProtocol` whole.

    Args:
        layer: any object.
        strict: raise a `ValueError` naming the missing members when the
            layer implements part of the protocol (one of `log_alpha`,
            `kl_divergence`, `pruning_mask`) but not all of it.

    Returns:
        A bool.
    """
    strict = check_bool(strict, "strict")
    missing = missing_members(layer)
    if not missing:
        return True
    partial = any(callable(getattr(layer, name, None)) for name in _MARKERS)
    if strict and partial:
        raise ValueError(
            f"Layer {getattr(layer, 'name', layer)!r} "
            f"({type(layer).__name__}) implements part of the variational "
            "protocol (keras_svd.layers.VariationalProtocol) but lacks "
            f"{', '.join(missing)}. Derive it from "
            "keras_svd.layers.BaseVariational or implement the missing "
            f"members. Received: layer={type(layer).__name__}"
        )
    return False
