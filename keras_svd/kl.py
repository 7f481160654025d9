"""The Sparse Variational Dropout KL term (Molchanov et al., ICML 2017).

The public names of the KL, kept here for `keras_svd.kl.kl_divergence`; the
math itself lives in `keras_svd.variational_ops`, with log alpha, the mask
and the local reparameterization terms.
"""

from keras_svd.variational_ops import K1
from keras_svd.variational_ops import K2
from keras_svd.variational_ops import K3
from keras_svd.variational_ops import kl_divergence
from keras_svd.variational_ops import log_alpha as clipped_log_alpha
from keras_svd.variational_ops import total_kl_divergence

__all__ = [
    "K1",
    "K2",
    "K3",
    "clipped_log_alpha",
    "kl_divergence",
    "total_kl_divergence",
]
