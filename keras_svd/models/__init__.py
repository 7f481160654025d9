"""The paper's networks, each in a dense and a variational variant."""

from keras_svd.models.lenet5_caffe import lenet5_caffe
from keras_svd.models.lenet_300_100 import lenet_300_100
from keras_svd.models.mc_dropout_cnn import mc_dropout_cnn
from keras_svd.models.mc_dropout_cnn import test_time_dropout_cnn
from keras_svd.models.vgg_like import vgg_like

# Names used on the command line.
MODELS = {
    "lenet-300-100": lenet_300_100,
    "lenet5-caffe": lenet5_caffe,
    "vgg-like": vgg_like,
}

# `test_time_dropout_cnn` (deprecated) and `MODELS` (the command line's
# names) stay importable but are not exported.
__all__ = ["lenet5_caffe", "lenet_300_100", "mc_dropout_cnn", "vgg_like"]
