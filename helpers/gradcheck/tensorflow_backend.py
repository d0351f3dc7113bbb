"""TensorFlow: x is a tensor or tf.Variable, a list of them, or a Keras model.

Variables are moved in place with ``assign``; tensors are immutable, so f is evaluated on
fresh ones. Keras 3 variables arrive here already unwrapped to the tf.Variable they hold.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from helpers.gradcheck.backend import Backend, VectorOutput, refuse_none
from helpers.gradcheck.report import GradCheckError


class TensorflowBackend(Backend):
    framework = "tensorflow"
    float64_hint = "tf.cast(x, tf.float64), or a model built with dtype='float64'"

    def __init__(self, f, variable, grad):
        super().__init__(f, variable, grad)
        tf = sys.modules["tensorflow"]
        self.tf = tf
        self.model = variable if hasattr(variable, "trainable_variables") and not isinstance(
            variable, (tf.Tensor, tf.Variable)) else None
        if self.model is not None:
            items = [getattr(v, "value", v) for v in self.model.trainable_variables]
            if not items:
                raise GradCheckError("the model has no trainable variables to check (build it "
                                     "by calling it once)")
        else:
            items = [variable] if isinstance(variable, (tf.Tensor, tf.Variable)) else \
                list(variable)
        for i, t in enumerate(items):
            if not isinstance(t, (tf.Tensor, tf.Variable)):
                raise GradCheckError(f"element {i} of x is a {type(t).__name__}, not a tensor")
            if t.dtype.is_complex:
                raise GradCheckError(
                    f"tensor {i} has dtype {t.dtype.name}: check_grad checks real gradients; "
                    "check the real and imaginary parts (tf.math.real, tf.math.imag) as two "
                    "real tensors")
            if not t.dtype.is_floating:
                raise GradCheckError(
                    f"tensor {i} has dtype {t.dtype.name}: finite differences on integers are "
                    "meaningless; pass floating-point tensors")
        self.is_variable = [isinstance(t, tf.Variable) for t in items]
        self.backups = [tf.identity(t) for t in items]
        self.current = list(items)
        self.tensors = self.current
        self.single = isinstance(variable, (tf.Tensor, tf.Variable))

    def _argument(self):
        if self.model is not None:
            return self.model
        return self.current[0] if self.single else self.current

    def call_f(self):
        return self.f(self._argument())

    def _given(self):
        tf = self.tf
        g = self.grad_source(self._argument()) if callable(self.grad_source) else \
            self.grad_source
        return [g] if isinstance(g, (tf.Tensor, tf.Variable, np.ndarray)) else list(g)

    def _taped(self, persistent=False):
        tf = self.tf
        tape = tf.GradientTape(persistent=persistent)
        with tape:
            for t in self.current:
                tape.watch(t)
            out = self.f(self._argument())
        if not isinstance(out, (tf.Tensor, tf.Variable)):
            raise GradCheckError(
                f"f returned a {'Python float' if isinstance(out, float) else type(out).__name__}"
                ", which the GradientTape cannot differentiate (float(...) and .numpy() end "
                "its record): return the TensorFlow tensor itself, or pass grad=")
        if out.dtype.is_complex:
            raise GradCheckError("f must return a real number, but returned a complex one: a "
                                 "gradient check needs a real-valued loss")
        return tape, out

    def value_and_gradient(self):
        tf = self.tf
        if self.grad_source is not None:
            grads = self._given()
            refuse_none(grads)
            return None, self.check_gradient([tf.convert_to_tensor(g) for g in grads])
        tape, out = self._taped()
        self.output_dtype = out.dtype.name
        if int(tf.size(out)) != 1:
            raise VectorOutput(tuple(out.shape))
        grads = tape.gradient(out, self.current)
        grads = [tf.zeros_like(t) if g is None else tf.convert_to_tensor(g)
                 for t, g in zip(self.current, grads, strict=True)]
        value = float(tf.reshape(out, ()))
        if not math.isfinite(value):
            raise GradCheckError(f"f returned {value} at the point being checked")
        return value, self.check_gradient(grads)

    def jacobian(self, out_shape):
        if self.grad_source is not None:
            return self.check_jacobian(self._given(), out_shape)
        tape, out = self._taped(persistent=True)
        jacobians = tape.jacobian(out, self.current)
        return [np.zeros(tuple(out_shape) + self.shape(i)) if j is None else
                np.asarray(j.numpy(), dtype=np.float64)
                for i, j in enumerate(jacobians)]

    def weighted_sum(self, out, u):
        tf = self.tf
        return tf.reduce_sum(tf.constant(u, dtype=out.dtype) * out)

    def random_direction(self, index, seed, scale):
        t = self.backups[index]
        return self.tf.random.stateless_normal(t.shape, seed=[seed % 2**31, index],
                                               dtype=t.dtype) * scale

    def _put(self, index, new):
        if self.is_variable[index]:
            self.current[index].assign(new)
        else:
            self.current[index] = new

    def set_perturbed(self, index, h, direction):
        # tf.constant, not tf.cast: TensorFlow reads a Python float as float32 first, and a step
        # rounded to float32 is off by ~3e-8 of itself
        self._put(index, self.backups[index] + self.tf.constant(h, direction.dtype) * direction)

    def shift_entry(self, index, entry, h):
        tf = self.tf
        x0 = self.backups[index]
        moved = x0[entry] + tf.constant(h, x0.dtype)
        self._put(index, tf.tensor_scatter_nd_update(x0, [list(entry)], [moved])
                  if entry else tf.reshape(moved, x0.shape))
        return float(tf.cast(moved, tf.float64) - tf.cast(x0[entry], tf.float64))

    def restore_entry(self, index, entry):
        self.restore(index)

    def restore(self, index):
        self._put(index, self.backups[index])

    def original(self, index):
        return self.backups[index]

    def from_numpy(self, index, array):
        return self.tf.constant(array, dtype=self.backups[index].dtype)

    def dot(self, a, b):
        tf = self.tf
        return float(tf.reduce_sum(tf.cast(a, tf.float64) * tf.cast(b, tf.float64)))

    def to_numpy(self, a):
        return np.asarray(a.numpy() if hasattr(a, "numpy") else a)

    def reshaped(self, g, shape):
        return self.tf.reshape(g, shape)

    def is_floating(self, g):
        return g.dtype.is_floating
