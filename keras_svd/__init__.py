"""keras-svd: Sparse Variational Dropout and Monte-Carlo dropout for Keras 3."""

from keras_svd import callbacks
from keras_svd import datasets
from keras_svd import distribution
from keras_svd import kl
from keras_svd import layers
from keras_svd import models
from keras_svd import plots
from keras_svd import schedules
from keras_svd import tuner
from keras_svd import variational_ops
from keras_svd.compact import compact
from keras_svd.compaction_report import CompactionReport
from keras_svd.feature_gather import FeatureGather
from keras_svd.layers import PermaDropout
from keras_svd.layers import VariationalConv2D
from keras_svd.layers import VariationalDense
from keras_svd.mc_predict import MCPrediction
from keras_svd.mc_predict import mc_predict
from keras_svd.model_utils import read_kl_log
from keras_svd.model_utils import set_kl_weight
from keras_svd.model_utils import set_num_train_examples
from keras_svd.model_utils import variational_layers
from keras_svd.sampling import sampling_mode
from keras_svd.sampling import set_weight_sampling
from keras_svd.sparsity import compression_ratio
from keras_svd.sparsity import measure_sparsity
from keras_svd.sparsity import sparsity_report
from keras_svd.sparse_storage import load_sparse
from keras_svd.sparse_storage import save_sparse
from keras_svd.sparsity import sparsity_table
from keras_svd.strip import strip_variational
from keras_svd.to_variational import to_variational
from keras_svd.version import __version__

__all__ = [
    "CompactionReport",
    "FeatureGather",
    "MCPrediction",
    "PermaDropout",
    "VariationalConv2D",
    "VariationalDense",
    "callbacks",
    "compact",
    "compression_ratio",
    "datasets",
    "distribution",
    "kl",
    "layers",
    "load_sparse",
    "mc_predict",
    "read_kl_log",
    "measure_sparsity",
    "models",
    "plots",
    "sampling_mode",
    "save_sparse",
    "schedules",
    "tuner",
    "set_kl_weight",
    "set_num_train_examples",
    "set_weight_sampling",
    "sparsity_report",
    "sparsity_table",
    "strip_variational",
    "to_variational",
    "variational_layers",
    "variational_ops",
]
