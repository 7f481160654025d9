"""Layers of keras-svd."""

from keras_svd.layers.base_variational import BaseVariational
from keras_svd.layers.perma_dropout import PermaDropout
from keras_svd.layers.variational_conv2d import VariationalConv2D
from keras_svd.layers.variational_dense import VariationalDense
from keras_svd.layers.variational_protocol import VariationalProtocol
from keras_svd.layers.variational_protocol import is_variational

__all__ = [
    "BaseVariational",
    "PermaDropout",
    "VariationalConv2D",
    "VariationalDense",
    "VariationalProtocol",
    "is_variational",
]
