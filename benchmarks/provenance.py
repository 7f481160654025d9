"""What the benchmarks record about how a figure was produced."""

import platform
import shlex
import sys

import keras


def command_line():
    """The command that ran this script, quoted for a shell."""
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def environment():
    """The backend, the Keras version and the machine."""
    return {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": platform.platform(),
    }
