"""The version of keras-svd, read by setup.py and exposed as `keras_svd.__version__`."""

__version__ = "0.1.0"
