"""The lazy framework layer: PyTorch and TensorFlow are used only if the caller imported them.

Importing :mod:`helpers` never imports ``torch`` or ``tensorflow`` (each costs seconds); a
framework is recognised by looking it up in ``sys.modules``, so an object can only be a torch
tensor if the caller has already imported torch.

This module is also the one place that quietens TensorFlow's C++ start-up log (oneDNN notices,
CPU-feature and CUDA-driver lines), which would otherwise land in a rendered page as an stderr
block: see :func:`import_tensorflow_quietly`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

__all__ = ["framework_of", "import_tensorflow_quietly", "to_numpy"]


def import_tensorflow_quietly():
    """Import TensorFlow without its C++ start-up log on stderr, and return the module.

    ``TF_CPP_MIN_LOG_LEVEL=2`` (set here unless the user chose a value) hides TensorFlow's own
    INFO and WARNING lines, but TensorFlow 2.21 writes further lines through absl before its
    logging is set up ("All log messages before absl::InitializeLog() ...", oneDNN, CUDA driver
    probes), whatever that variable says. So the import and the device discovery that logs run
    with file descriptor 2 pointed at /dev/null; afterwards stderr works as before, and Python
    errors raised by the import still propagate. Later ``import tensorflow as tf`` statements
    get the already imported module and print nothing.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe logs here, not at the first op later
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
    return tf


def framework_of(x: Any) -> str:
    """Name the framework an array-like belongs to: ``"torch"``, ``"tensorflow"`` or ``"numpy"``.

    Anything that is neither a torch tensor nor a TensorFlow tensor/variable counts as NumPy
    (Python scalars and lists included).

    >>> framework_of(np.zeros(3))
    'numpy'
    >>> framework_of(1.5)
    'numpy'
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return "torch"
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(x, (tf.Tensor, tf.Variable)):
        return "tensorflow"
    return "numpy"


def to_numpy(x: Any) -> np.ndarray:
    """Return ``x`` as a NumPy array, whatever framework it comes from.

    Torch tensors are detached and copied to the host; TensorFlow tensors and variables are
    converted with ``.numpy()``.

    >>> to_numpy([1.0, 2.0])
    array([1., 2.])
    """
    kind = framework_of(x)
    if kind == "torch":
        return x.detach().cpu().numpy()
    if kind == "tensorflow":
        return np.asarray(x.numpy())
    return np.asarray(x)
