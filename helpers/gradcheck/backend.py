"""The narrow interface the two checks are written against, and what all backends share.

A *backend* holds the variable ``x`` as a list of tensors of one framework and does to them
the few things a finite-difference check needs: evaluate ``f``, get the gradient being
checked, move ``x`` (along a direction, or one entry at a time) and put it back exactly.
The checks (``directional.py``, ``full.py``) only call the methods below, and never ask which
framework they work on; each framework's module subclasses :class:`Backend`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from helpers.frameworks import framework_of
from helpers.gradcheck.report import GradCheckError

# Machine epsilon of the float formats the three frameworks use.
EPSILON = {"float64": 2.2e-16, "float32": 1.19e-7, "float16": 9.8e-4, "bfloat16": 7.8e-3}


class VectorOutput(Exception):
    """Raised inside the checks when f returns more than one number (check_grad routes it)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__(shape)
        self.shape = shape


def dtype_name(dtype: Any) -> str:
    name = str(dtype).replace("torch.", "").replace("<dtype: '", "").replace("'>", "")
    return {"double": "float64", "float": "float32", "half": "float16"}.get(name, name)


def seed_for(seed: int, *where: int) -> int:
    """A reproducible seed per (seed, direction, tensor[, chunk]): directions are
    regenerated from it, never stored."""
    return zlib.crc32("/".join(map(str, (seed, *where))).encode())


def least_precise(names) -> str:
    """Of several dtype names, the one with the largest machine epsilon."""
    return max(names, key=lambda n: EPSILON.get(n, EPSILON["float32"]))


def scaled_norm(a: np.ndarray) -> float:
    """||a||, computed as max|a_i| * ||a / max|a_i||| where a . a overflows (or underflows)."""
    with np.errstate(over="ignore", under="ignore"):
        square = float(np.dot(a.reshape(-1), a.reshape(-1))) if a.size else 0.0
    if 1e-290 < square < math.inf or (square == 0.0 and not np.any(a)):
        return math.sqrt(square)
    top = float(np.max(np.abs(a)))
    if not math.isfinite(top) or top == 0.0:
        return top
    return top * float(np.linalg.norm(a / top))


def refuse_none(grads: Sequence[Any]) -> None:
    for i, g in enumerate(grads):
        if g is None:
            raise GradCheckError(
                f"gradient of tensor {i} is None (a frozen tensor, or one f does not use): "
                "pass zeros of its shape, or leave the tensor out of x, e.g. "
                "[p for p in model.parameters() if p.requires_grad]")


class Backend:
    """A variable made of one or more tensors, moved in place and restored bit for bit.

    Subclasses provide the framework's operations (the methods that raise
    NotImplementedError); the rest is shared. ``tensors`` is the list of the variable's
    tensors, ``float64_hint`` says how to convert this framework's inputs to float64, and
    ``fuses_norms`` is true where ``displace`` measures the gradient's norms itself.
    """

    framework = "numpy"
    float64_hint = "x.astype(np.float64)"
    fuses_norms = False

    def __init__(self, f: Callable, variable: Any, grad: Any):
        self.f = f
        self.variable = variable
        self.grad_source = grad
        self.tensors: list[Any] = []
        self.gradient_norms: dict[int, float] = {}
        self.output_dtype: str | None = None  # f's, once f has been evaluated
        self._scales: dict[int, float] = {}
        self._magnitudes: dict[int, float] = {}
        self._moves: dict[int, tuple[Any, float]] = {}  # tensor -> (direction, step) in use

    # ---- the framework's operations ------------------------------------------------------
    def call_f(self) -> Any:
        """f at the current x, without recording a gradient."""
        raise NotImplementedError

    def value_and_gradient(self) -> tuple[float | None, list[Any]]:
        """(f(x) if it came with the gradient, else None; the gradient to check, per tensor).

        Raises VectorOutput if autodiff finds that f returns more than one number."""
        raise NotImplementedError

    def jacobian(self, out_shape: tuple[int, ...]) -> list[np.ndarray]:
        """The Jacobian to check, per tensor, shaped out_shape + tensor shape (float64)."""
        raise NotImplementedError

    def weighted_sum(self, out: Any, u: np.ndarray) -> Any:
        """u . out in f's framework (so that autodiff of it gives the VJP u^T J)."""
        raise NotImplementedError

    def random_direction(self, index: int, seed: int, scale: float) -> Any:
        raise NotImplementedError

    def set_perturbed(self, index: int, h: float, direction: Any) -> None:
        """x_index = x0_index + h * direction."""
        raise NotImplementedError

    def shift_entry(self, index: int, entry: tuple[int, ...], h: float) -> float:
        """x_index[entry] = x0_index[entry] + h; returns the step actually taken (after
        rounding to x's dtype)."""
        raise NotImplementedError

    def restore_entry(self, index: int, entry: tuple[int, ...]) -> None:
        """x_index[entry] = x0_index[entry], bit for bit."""
        raise NotImplementedError

    def restore(self, index: int) -> None:
        raise NotImplementedError

    def original(self, index: int) -> Any:
        """The unperturbed tensor ``index``."""
        raise NotImplementedError

    def dot(self, a: Any, b: Any) -> float:
        raise NotImplementedError

    def norm(self, a: Any) -> float:
        """The Euclidean norm of ``a``, without overflow where ``a . a`` would (|a_i| ~ 1e200)."""
        return scaled_norm(np.asarray(self.to_numpy(a), dtype=np.float64))

    def moved_dot(self, ids: Sequence[int], grads: list[Any]) -> float:
        """grad . (x - x0) over tensors ``ids``: the displacement actually stored, rounding
        included (x - x0 is exact for x near x0)."""
        return math.fsum(self.dot(grads[i], self.to_numpy(self.tensors[i]).astype(np.float64)
                                  - self.original_numpy(i)) for i in ids)

    def to_numpy(self, a: Any) -> np.ndarray:
        raise NotImplementedError

    def from_numpy(self, index: int, array: np.ndarray) -> Any:
        """``array`` as a tensor like tensor ``index`` (dtype, device)."""
        raise NotImplementedError

    def reshaped(self, g: Any, shape: tuple[int, ...]) -> Any:
        return g.reshape(shape)

    def is_floating(self, g: Any) -> bool:
        return bool(np.issubdtype(np.asarray(self.to_numpy(g)).dtype, np.floating))

    def check_device(self, index: int, g: Any) -> None:
        """Raise if gradient ``g`` lives elsewhere than tensor ``index``."""

    @contextlib.contextmanager
    def session(self):
        """Everything a check changes outside x, undone when it ends (the one place that
        touches process state).

        The cyclic garbage collector is paused, as ``timeit`` pauses it: a check makes
        thousands of short-lived objects, and at small N a collection in the middle costs more
        than the check. The PyTorch fast path adds its thread pool, shut down at the end.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if collecting:
                gc.enable()

    # ---- a directional move: x_i = x0_i + h s_i v_i (the PyTorch backend has a faster one) --
    def displace(self, ids: Sequence[int], seed: int, index: int, h: float,
                 grads: list[Any]) -> float:
        """Move tensors ``ids`` by ``h`` along direction ``index``; return grad . v over them.

        ``v_i`` is the seeded Gaussian direction scaled by the tensor's spread (``scale``).
        """
        dots = {}
        for i in ids:
            v = self.random_direction(i, seed_for(seed, index, i), self.scale(i))
            dots[i] = self.dot(grads[i], v)
            self._moves[i] = (v, h)
            self.set_perturbed(i, h, v)
        return math.fsum(dots.values())

    def rescale(self, ids: Sequence[int], factor: float) -> None:
        """Multiply the current displacement of tensors ``ids`` by ``factor``."""
        for i in ids:
            v, h = self._moves[i]
            self._moves[i] = (v, h * factor)
            self.set_perturbed(i, h * factor, v)

    def restore_all(self, ids: Sequence[int]) -> None:
        for i in ids:
            self.restore(i)

    # ---- shared ----------------------------------------------------------------------------
    def original_numpy(self, index: int) -> np.ndarray:
        return np.asarray(self.to_numpy(self.original(index)), dtype=np.float64)

    def statistics(self) -> list[tuple[float, float]]:
        """(standard deviation, root mean square) of each tensor's entries; the deviation is
        taken from the mean (two passes), so a constant tensor has none at all."""
        out = []
        for i in range(len(self.tensors)):
            values = self.original_numpy(i)
            out.append((float(np.std(values)) if values.size > 1 else 0.0,
                        scaled_norm(values) / math.sqrt(values.size) if values.size else 0.0))
        return out

    def magnitude(self, index: int) -> float:
        """The root mean square of tensor ``index``'s entries: how much rounding x + h v
        moves them (relative to eps)."""
        self.scale(index)
        return self._magnitudes[index]

    def scale(self, index: int) -> float:
        """How far tensor ``index`` is moved per unit of step: the spread of its entries.

        The spread (not the size of the entries) keeps every step the same when x is scaled
        (it scales with x) or shifted by a constant (it does not move). A constant tensor, a
        zero-initialised bias say, has no spread; it borrows the median spread of the others,
        or 1 when none has any."""
        if not self._scales:
            stats = self.statistics()
            known = sorted(s for s, _ in stats if s > 0)
            fallback = known[len(known) // 2] if known else 1.0
            self._scales = {i: s or fallback for i, (s, _) in enumerate(stats)}
            self._magnitudes = {i: m for i, (_, m) in enumerate(stats)}
        return self._scales[index]

    @functools.cached_property
    def size(self) -> int:
        return sum(math.prod(self.shape(i)) for i in range(len(self.tensors)))

    def shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(s) for s in self.tensors[index].shape)

    @functools.cached_property
    def x_dtype(self) -> str:
        return least_precise(dtype_name(t.dtype) for t in self.tensors)

    @property
    def dtype(self) -> str:
        """The precision finite differences can trust: the least precise of x's dtypes and of
        what f returns (an f that computes in float32, or under mixed precision, from
        float64 x rounds its value to float32)."""
        return least_precise([self.x_dtype] + ([self.output_dtype] if self.output_dtype else []))

    @property
    def precision(self) -> str:
        """The dtype that limits finite differences, and where it comes from if not x."""
        if self.dtype != self.x_dtype:
            return f"{self.dtype} (the dtype f returns; x is {self.x_dtype})"
        return self.dtype

    @property
    def remedy(self) -> str:
        """What to do when round-off leaves a check undecided."""
        coarser = "or accept a coarser error with rtol= (e.g. rtol=1e-2)"
        if self.dtype != self.x_dtype:
            return f"compute f in {self.x_dtype}, {coarser}"
        if self.dtype != "float64":
            return f"check in float64 ({self.float64_hint}), {coarser}"
        return ("f loses digits to round-off: its value, or terms it subtracts (parameters far "
                "from zero, a large constant), are large beside the change a step makes; "
                f"centre them, {coarser}")

    @property
    def epsilon(self) -> float:
        return EPSILON.get(self.dtype, EPSILON["float32"])

    def value(self) -> float:
        return self.scalar(self.call_f())

    def output_array(self, out: Any) -> np.ndarray:
        """``f``'s output, from whichever framework, as a float64 NumPy array (or a
        GradCheckError saying what it was instead)."""
        array = np.asarray(self.to_numpy(out) if framework_of(out) != "numpy" else out)
        if array.dtype.name == "bfloat16":  # ml_dtypes' (TensorFlow's) bfloat16: exact in f32
            array = array.astype(np.float32)
        if np.iscomplexobj(array) or not np.issubdtype(array.dtype, np.number):
            raise GradCheckError(f"f must return a real number, but returned {array.dtype}: "
                                 "a gradient check needs a real-valued loss")
        if self.output_dtype is None and np.issubdtype(array.dtype, np.floating):
            # (a bfloat16 output arrives here widened to float32; its name is kept below)
            self.output_dtype = dtype_name(getattr(out, "dtype", array.dtype))
        return array.astype(np.float64)

    def evaluate(self) -> np.ndarray:
        """f at the current x as a float64 array (of any shape), all finite."""
        out = self.output_array(self.call_f())
        if not np.all(np.isfinite(out)):
            raise GradCheckError("f returned NaN or inf at a point near x (within a "
                                 "finite-difference step): a gradient check needs f finite "
                                 "around the point being checked")
        return out

    def scalar(self, out: Any) -> float:
        """``f``'s output as one finite float; VectorOutput if it holds several numbers."""
        array = self.output_array(out)
        if array.size != 1:
            raise VectorOutput(array.shape)
        value = float(array.reshape(()))
        if not math.isfinite(value):
            raise GradCheckError(f"f returned {value} at the point being checked: a gradient "
                                 "check needs a finite loss there")
        return value

    def refuse_duplicates(self) -> None:
        """A tensor listed twice would be perturbed twice per step: name it instead."""
        seen: dict[int, int] = {}
        for i, t in enumerate(self.tensors):
            first = seen.setdefault(id(t), i)
            if first != i:
                raise GradCheckError(f"tensor {i} is tensor {first} again: list each tensor "
                                     "once (a repeated tensor would be perturbed twice)")

    def check_gradient(self, grads: list[Any], measure_norms: bool = True) -> list[Any]:
        """Shapes, dtypes and devices of the gradient to check; its norms (unless the
        backend's ``displace`` measures them)."""
        refuse_none(grads)
        if len(grads) != len(self.tensors):
            raise GradCheckError(f"the gradient has {len(grads)} tensors but the variable has "
                                 f"{len(self.tensors)}")
        grads = list(grads)
        for i, g in enumerate(grads):
            shape = tuple(int(s) for s in g.shape)
            if shape != self.shape(i) and math.prod(shape) == 1 == math.prod(self.shape(i)):
                # one number for a one-entry tensor ([2 * x[0]] for x of shape (1,)): read in
                # x's shape (larger shapes must match: a column for a row is a bug to name)
                g = grads[i] = self.reshaped(g, self.shape(i))
                shape = self.shape(i)
            if shape != self.shape(i):
                raise GradCheckError(
                    f"gradient of tensor {i} has shape {shape}, but the variable has shape "
                    f"{self.shape(i)}: a gradient has the shape of its variable")
            if not self.is_floating(g):
                raise GradCheckError(f"gradient of tensor {i} is not floating point")
            self.check_device(i, g)
            if not measure_norms:
                continue
            norm = self.norm(g)
            if not math.isfinite(norm):
                raise GradCheckError(f"gradient of tensor {i} contains NaN or inf")
            self.gradient_norms[i] = norm
        return grads

    def check_jacobian(self, jacobians: Any, out_shape: tuple[int, ...]) -> list[np.ndarray]:
        """A given Jacobian (one array, or one per tensor) as float64 arrays, shapes checked."""
        items = [jacobians] if (len(self.tensors) == 1 and framework_of(jacobians) != "numpy") \
            or isinstance(jacobians, np.ndarray) else list(jacobians)
        refuse_none(items)
        if len(items) != len(self.tensors):
            raise GradCheckError(f"the Jacobian has {len(items)} parts but the variable has "
                                 f"{len(self.tensors)} tensors")
        out = []
        for i, jac in enumerate(items):
            jac = np.asarray(self.to_numpy(jac) if framework_of(jac) != "numpy" else jac,
                             dtype=np.float64)
            expected = tuple(out_shape) + self.shape(i)
            if jac.shape == self.shape(i):
                raise GradCheckError(
                    f"f returns shape {tuple(out_shape)}, not a scalar, but grad has the shape "
                    f"of x: reduce f to a scalar (e.g. .sum()), or pass f's Jacobian, shape "
                    f"{expected} (outputs first)")
            if jac.shape != expected:
                raise GradCheckError(
                    f"f returns shape {tuple(out_shape)}, so the Jacobian"
                    f"{f' of tensor {i}' if len(items) > 1 else ''} must have shape "
                    f"{expected} (outputs first), got {jac.shape}")
            out.append(jac)
        return out
