"""Callbacks of keras-svd: KL annealing and sparsity reporting."""

from keras_svd.callbacks.kl_annealing import KLAnnealing
from keras_svd.callbacks.sparsity_monitor import SparsityMonitor

__all__ = ["KLAnnealing", "SparsityMonitor"]
