"""Which backend checks a given x: the one module that imports the frameworks' backends.

:mod:`helpers.gradcheck.backend` is the interface every framework implements; it imports none
of them. This module looks at x (a NumPy array, PyTorch tensors or a ``torch.nn.Module``,
TensorFlow variables or a Keras model, or a list of them), refuses what no backend can take
with a message, and builds the backend of x's framework, which imports that framework only
then.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from helpers.frameworks import framework_of
from helpers.gradcheck.backend import Backend
from helpers.gradcheck.report import GradCheckError


def backend_for(f: Callable, x: Any, grad: Any) -> Backend:
    """The backend for x's framework, after the checks every framework shares."""
    if not callable(f):
        raise GradCheckError(f"f must be a function of x, got {type(f).__name__}")
    kind = _model_framework(x)
    if isinstance(x, dict):
        raise GradCheckError("x is a dict: pass its tensors as a list, e.g. list(x.values()), "
                             "and let f rebuild the dict from that list if it needs one")
    if kind is None:
        if not isinstance(x, (list, tuple, np.ndarray)) and hasattr(x, "__iter__") and \
                not hasattr(x, "shape"):
            x = list(x)  # e.g. model.parameters()
        if isinstance(x, (list, tuple)) and x and isinstance(x[0], tuple) and len(x[0]) == 2 \
                and isinstance(x[0][0], str):
            raise GradCheckError("x holds (name, tensor) pairs, as model.named_parameters() "
                                 "yields: pass list(model.parameters()), or [p for _, p in "
                                 "pairs]")
        if isinstance(x, (list, tuple)) and not x:
            raise GradCheckError("x is an empty list: pass the tensors whose gradient to "
                                 "check")
        if isinstance(x, (list, tuple)):
            for i, item in enumerate(x):
                if isinstance(item, (list, tuple, dict)):
                    raise GradCheckError(
                        f"element {i} of x is a {type(item).__name__}: x is one array or "
                        "tensor, or a flat list of tensors; flatten nested lists first")
        x = _without_keras_wrappers(x)
        probe = x[0] if isinstance(x, (list, tuple)) and framework_of(x[0]) != "numpy" else x
        kind = framework_of(probe)
    if kind == "torch":
        from helpers.gradcheck.torch_fast import FastTorchBackend as cls
    elif kind == "tensorflow":
        from helpers.gradcheck.tensorflow_backend import TensorflowBackend as cls
    else:
        from helpers.gradcheck.numpy_backend import NumpyBackend as cls
    backend = cls(f, x, grad)
    backend.refuse_duplicates()
    if backend.size == 0:
        raise GradCheckError("x has no entries: there is no gradient to check")
    return backend


def _model_framework(x: Any) -> str | None:
    """"torch" for a torch.nn.Module, "tensorflow" for a Keras model, else None: a model is
    checked through its trainable parameters, and f is called with the model itself."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.nn.Module):
        return "torch"
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(x, keras.layers.Layer):  # models are layers too
        return "tensorflow"
    return None


def _without_keras_wrappers(x: Any) -> Any:
    """Keras 3 variables (``model.trainable_variables``) wrap a tf.Variable: check that one.

    They are not ``tf.Variable``s themselves, so TensorFlow's tape and assign would not see
    them as such; their ``.value`` is the variable the layer reads.
    """
    def unwrap(v: Any) -> Any:
        inner = getattr(v, "value", None) if type(v).__module__.startswith("keras") else None
        return inner if inner is not None and framework_of(inner) == "tensorflow" else v

    return [unwrap(v) for v in x] if isinstance(x, (list, tuple)) else unwrap(x)
