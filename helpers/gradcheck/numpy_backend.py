"""NumPy: x is one array, evaluated in float64 whatever its dtype; the gradient is given."""

from __future__ import annotations

import numpy as np

from helpers.gradcheck.backend import Backend
from helpers.gradcheck.report import GradCheckError


class NumpyBackend(Backend):
    framework = "numpy"
    float64_hint = "x.astype(np.float64)"

    def __init__(self, f, variable, grad):
        super().__init__(f, variable, grad)
        if isinstance(variable, (list, tuple)) and any(
                isinstance(v, np.ndarray) and v.ndim for v in variable):
            raise GradCheckError(
                "x is a list of NumPy arrays: the NumPy check takes one array; pass "
                "np.concatenate([a.ravel() for a in x]) and let f split it (or use torch "
                "tensors, which may come as a list)")
        array = np.asarray(variable)
        if np.issubdtype(array.dtype, np.integer):
            raise GradCheckError("x has an integer dtype: finite differences on integers are "
                                 "meaningless; pass x.astype(float)")
        if np.iscomplexobj(array):
            raise GradCheckError("x is complex: check_grad checks real gradients; check the "
                                 "real and imaginary parts as two real arrays")
        if not np.issubdtype(array.dtype, np.floating):
            raise GradCheckError(f"x must be an array of real numbers, got dtype {array.dtype}")
        if not np.all(np.isfinite(array)):
            raise GradCheckError("x contains NaN or inf; check the gradient at a finite point")
        # NumPy functions can always be evaluated in float64: do it, whatever x's dtype.
        self.x = np.array(array, dtype=np.float64)
        self.backup = self.x.copy()
        self.tensors = [self.x]
        if grad is None:
            raise GradCheckError("NumPy has no automatic differentiation: pass grad=, a "
                                 "function of x or the gradient array itself")

    def call_f(self):
        # NaN/inf in the result is reported by value() with a clearer message than NumPy's
        with np.errstate(all="ignore"):
            return self.f(self.x)

    def _given(self):
        g = self.grad_source(self.x) if callable(self.grad_source) else self.grad_source
        return g[0] if isinstance(g, (list, tuple)) and len(g) == 1 else g  # [array], as for
        # the list-of-tensors frameworks

    def value_and_gradient(self):
        g = np.asarray(self._given())
        if g.dtype == object:
            raise GradCheckError("the gradient is not a numeric array")
        if not (np.issubdtype(g.dtype, np.floating) or np.issubdtype(g.dtype, np.integer)):
            raise GradCheckError(f"the gradient has dtype {g.dtype}; it must be real")
        return None, self.check_gradient([g.astype(np.float64)])

    def jacobian(self, out_shape):
        return self.check_jacobian(self._given(), out_shape)

    def weighted_sum(self, out, u):
        return float(np.sum(u * np.asarray(out, dtype=np.float64)))

    def random_direction(self, index, seed, scale):
        return np.random.default_rng([seed, index]).standard_normal(self.x.shape) * scale

    def set_perturbed(self, index, h, direction):
        np.add(self.backup, h * direction, out=self.x)

    def shift_entry(self, index, entry, h):
        self.x[entry] = self.backup[entry] + h
        return float(self.x[entry] - self.backup[entry])

    def restore_entry(self, index, entry):
        self.x[entry] = self.backup[entry]

    def restore(self, index):
        self.x[...] = self.backup

    def original(self, index):
        return self.backup

    def from_numpy(self, index, array):
        return np.asarray(array, dtype=np.float64)

    def dot(self, a, b):
        return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))

    def to_numpy(self, a):
        return np.asarray(a)
