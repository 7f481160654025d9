"""Packaging for keras-svd."""

import pathlib

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent


def _version():
    namespace = {}
    exec((HERE / "keras_svd" / "version.py").read_text(), namespace)
    return namespace["__version__"]


setup(
    name="keras-svd",
    version=_version(),
    description=(
        "Sparse Variational Dropout and Monte-Carlo dropout layers for Keras 3."
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["keras_svd", "keras_svd.*"]),
    # The command's launcher, outside the package so that `--help` does not
    # import TensorFlow.
    py_modules=["keras_svd_cli"],
    python_requires=">=3.9",
    install_requires=[
        "keras>=3",
        "tensorflow",
        "tensorflow-datasets",
        "keras-tuner",
        "numpy",
        # TensorFlow 2.21 no longer installs TensorBoard; Keras's TensorBoard
        # callback and keras-tuner's trials need it.
        "tensorboard",
        # tensorflow-datasets 4.9.10 imports it without declaring it.
        "importlib_resources",
    ],
    extras_require={
        # scikit-learn and matplotlib: the tuner tests (BayesianOptimization,
        # the Pareto plot) and the plot tests run instead of skipping;
        # hypothesis: the property-based layer tests; nbclient, nbformat and
        # ipykernel: the test that executes notebooks/ headless.
        "tests": [
            "pytest", "scipy", "scikit-learn", "matplotlib", "hypothesis",
            "nbclient", "nbformat", "ipykernel",
        ],
        # The other Keras backends the test suite runs on (KERAS_BACKEND=jax
        # or torch). CI pins the CPU build of torch (.ci/run).
        "backends": ["jax", "torch"],
        # keras_svd.tuner: plot_pareto_front draws with matplotlib;
        # keras_tuner.BayesianOptimization needs scikit-learn.
        "tuner": ["matplotlib", "scikit-learn"],
        # keras_svd.plots and the notebooks in notebooks/.
        "notebooks": ["matplotlib", "scikit-learn"],
    },
    entry_points={
        "console_scripts": ["keras-svd = keras_svd_cli:main"],
    },
)
