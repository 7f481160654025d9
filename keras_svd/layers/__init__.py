"""Layers of keras-svd."""

from keras_svd.layers.kl_tracker import KLTracker
from keras_svd.layers.perma_dropout import PermaDropout
from keras_svd.layers.variational_conv2d import VariationalConv2D
from keras_svd.layers.variational_dense import VariationalDense
from keras_svd.layers.variational_layer import VariationalLayer
from keras_svd.layers.variational_layer import is_variational
