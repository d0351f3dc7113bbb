"""Gradient checks that stay trustworthy from ten parameters to a billion.

``check_grad(f, x, grad=None)`` compares a gradient (given, or computed by the framework's
autodiff) with finite differences of ``f``, for NumPy arrays, PyTorch tensors (one tensor or a
list such as ``list(model.parameters())``, on any device) and TensorFlow tensors or variables.

Two modes, chosen by size unless asked for:

* ``"full"``: a central difference for every coordinate (and the whole Jacobian when ``f``
  returns a vector). Exact about *where* a gradient is wrong; costs ``2 N`` evaluations.
* ``"directional"``: a *Taylor ladder* along a few seeded Gaussian directions ``v``. The
  remainder ``r(h) = f(x + h v) - f(x) - h grad . v`` shrinks like ``h**2`` when the gradient
  is right and like ``h`` when it is wrong; the observed rates are reported, and a Richardson
  combination of two rungs measures the error of ``grad . v`` itself. Each direction costs
  two evaluations of ``f`` (``rungs=2``) whatever ``N`` is, perturbs the parameters in place
  and restores them exactly from one backup copy (the direction is drawn piece by piece from
  its seed and never stored, so that is the only parameter-sized buffer). On failure, the
  same check run per tensor says *which* tensor is wrong, at a cost proportional to the
  number of tensors, never to ``N``.

Why not the frameworks' own checkers: ``torch.autograd.gradcheck`` builds the full Jacobian
(``2 N`` evaluations), and its fast mode's tolerance grows with ``N`` so that at ``N >= 1e5``
it passes gradients with an entry doubled; ``tf.test.compute_gradient`` builds both Jacobians;
``jax.test_util.check_grads`` uses a fixed step ``1e-4`` whatever the dtype. None reports a rate
or tells a round-off floor from a wrong gradient.
"""

from __future__ import annotations

import functools
import gc
import itertools
import math
import sys
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers.frameworks import framework_of

__all__ = ["GradCheckError", "GradCheckReport", "check_grad"]

# Machine epsilon of the float formats the three frameworks use.
EPSILON = {"float64": 2.2e-16, "float32": 1.19e-7, "float16": 9.8e-4, "bfloat16": 7.8e-3}
FULL_MODE_LIMIT = 2_000  # coordinates; above this "auto" picks the directional mode


class GradCheckError(ValueError):
    """Bad input to :func:`check_grad`: the message says what was wrong and what to do."""


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


@dataclass
class GradCheckReport:
    """The outcome of :func:`check_grad`.

    ``verdict`` is ``"passed"``, ``"failed"`` or ``"inconclusive"``; ``bool(report)`` is true
    only for ``"passed"``. ``summary`` says in one sentence what was found. ``evaluations``
    counts the evaluations of ``f`` and ``gradient_passes`` the gradient computations (one
    forward+backward each when autodiff is used).
    """

    verdict: str
    mode: str
    framework: str
    size: int
    dtype: str
    summary: str
    evaluations: int = 0
    gradient_passes: int = 0
    directions: list[dict] = field(default_factory=list)
    worst: list[dict] = field(default_factory=list)
    tensors: list[dict] = field(default_factory=list)
    max_abs_error: float | None = None
    max_rel_error: float | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def __bool__(self) -> bool:
        return self.passed

    def lines(self) -> list[str]:
        out = [f"gradient check {self.verdict.upper()}: {self.summary}",
               f"  mode {self.mode}, {self.framework}, {self.size:,} parameters ({self.dtype}); "
               f"cost {self.evaluations} evaluations of f + {self.gradient_passes} gradient "
               f"pass{'es' if self.gradient_passes != 1 else ''}"]
        if self.max_abs_error is not None:
            out.append(f"  largest error {self.max_abs_error:.3g} (relative "
                       f"{self.max_rel_error:.3g})")
        for entry in self.worst:
            out.append(f"  entry {entry['index']}: gradient {entry['gradient']:.10g}, "
                       f"finite difference {entry['numeric']:.10g}")
        for d in self.directions:
            out.append(f"  direction {d['index']}: grad.v = {d['grad_dot_v']:.10g}, "
                       f"finite differences {d['numeric_dot_v']:.10g}, relative error "
                       f"{d['relative_error']:.2e}, rates {_fmt_rates(d['rates'])}"
                       + (f", {d['note']}" if d.get("note") else ""))
        for t in self.tensors:
            out.append(f"  tensor {t['index']} {t['shape']}: {t['verdict']}, relative error "
                       f"{t['relative_error']:.2e}"
                       + (f", ratio {t['ratio']:.3g}" if t.get("ratio") is not None else ""))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        import html

        color = {"passed": "#1a7f37", "failed": "#cf222e"}.get(self.verdict, "#9a6700")
        head, *rest = self.lines()
        items = "".join(f"<li><code>{html.escape(line.strip())}</code></li>" for line in rest)
        return (f'<div><strong style="color:{color}">{html.escape(head)}</strong>'
                f"<ul>{items}</ul></div>")


# --------------------------------------------------------------------------------------
# Framework backends: the few operations the checks need, on a list of tensors
# --------------------------------------------------------------------------------------


def _dtype_name(dtype: Any) -> str:
    name = str(dtype).replace("torch.", "").replace("<dtype: '", "").replace("'>", "")
    return {"double": "float64", "float": "float32", "half": "float16"}.get(name, name)


class _Backend:
    """A variable made of one or more tensors, with in-place perturbation and restore."""

    framework = "numpy"

    def __init__(self, f: Callable, variable: Any, grad: Any):
        self.f = f
        self.variable = variable
        self.grad_source = grad
        self.tensors: list[Any] = []
        self.gradient_square_norms: dict[int, float] = {}  # filled by check_gradient
        self._scales: dict[int, float] = {}
        self._moves: dict[int, tuple[Any, float]] = {}  # tensor -> (direction, step) in use
        self.fused_norms = False  # the PyTorch backend's displace() computes them instead

    # -- to be provided per framework --
    def call_f(self) -> Any: ...
    def value_and_gradient(self) -> tuple[float | None, list[Any]]: ...
    def random_direction(self, index: int, seed: int, scale: float) -> Any: ...
    def set_perturbed(self, index: int, h: float, direction: Any) -> None: ...
    def restore(self, index: int) -> None: ...
    def dot(self, a: Any, b: Any) -> float: ...
    def square_norm(self, a: Any) -> float: ...
    def to_numpy(self, a: Any) -> np.ndarray: ...
    def rms(self, index: int) -> float: ...
    def original(self, index: int) -> Any: ...

    def is_floating(self, g: Any) -> bool:
        return bool(np.issubdtype(np.asarray(self.to_numpy(g)).dtype, np.floating))

    # -- a directional move: x_i = x0_i + h v_i; the PyTorch backend overrides these two --
    def displace(self, ids: Sequence[int], seed: int, index: int, h: float,
                 grads: list[Any]) -> float:
        """Move tensors ``ids`` by ``h`` along direction ``index``; return grad . v over them.

        ``v_i`` is the seeded Gaussian direction scaled by the tensor's RMS (see ``scale``).
        """
        dots = {}
        for i in ids:
            v = self.random_direction(i, _seed_for(seed, index, i), self.scale(i))
            dots[i] = self.dot(grads[i], v)
            self._moves[i] = (v, h)
            self.set_perturbed(i, h, v)
        return math.fsum(dots.values())

    def restore_all(self, ids: Sequence[int]) -> None:
        for i in ids:
            self.restore(i)

    def rescale(self, ids: Sequence[int], factor: float) -> None:
        """Multiply the current displacement of tensors ``ids`` by ``factor``."""
        for i in ids:
            v, h = self._moves[i]
            self._moves[i] = (v, h * factor)
            self.set_perturbed(i, h * factor, v)

    # -- shared --
    def scale(self, index: int) -> float:
        """How much tensor ``index`` is perturbed per unit of h: its RMS value, or 1 if zero."""
        if index not in self._scales:
            self._scales[index] = self.rms(index) or 1.0
        return self._scales[index]

    @functools.cached_property
    def size(self) -> int:
        return sum(math.prod(self.shape(i)) for i in range(len(self.tensors)))

    def shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(s) for s in self.tensors[index].shape)

    @functools.cached_property
    def dtype(self) -> str:
        names = {_dtype_name(t.dtype) for t in self.tensors}
        # the least precise dtype decides how far finite differences can be trusted
        return max(names, key=lambda n: EPSILON.get(n, 1.0))

    def value(self) -> float:
        return self.scalar(self.call_f())

    def output_array(self, out: Any) -> np.ndarray:
        """``f``'s output, from whichever framework, as a NumPy array."""
        return np.asarray(self.to_numpy(out) if framework_of(out) != "numpy" else out)

    def scalar(self, out: Any) -> float:
        """``f``'s output as one finite float, or a GradCheckError saying what it was."""
        array = self.output_array(out)
        if np.iscomplexobj(array) or not np.issubdtype(array.dtype, np.number):
            raise GradCheckError(f"f must return a real number, but returned {array.dtype}: "
                                 "a gradient check needs a real-valued loss")
        if array.size != 1:
            hint = ("mode='full' checks the whole Jacobian of a NumPy f" if self.framework ==
                    "numpy" else "for a vector-valued f, check a weighted sum u . f(x) with a "
                    "random u: its gradient is the vector-Jacobian product u^T J")
            raise GradCheckError(f"f must return a scalar here, but returned shape "
                                 f"{array.shape}: reduce it (e.g. .sum()), or {hint}")
        value = float(array.reshape(()))
        if not math.isfinite(value):
            raise GradCheckError(f"f returned {value} at the point being checked: a gradient "
                                 "check needs a finite loss there")
        return value

    def check_device(self, index: int, g: Any) -> None:
        """Raise if gradient ``g`` lives elsewhere than tensor ``index`` (PyTorch only)."""

    def refuse_duplicates(self) -> None:
        """A tensor listed twice would be perturbed twice per step: name it instead."""
        seen: dict[int, int] = {}
        for i, t in enumerate(self.tensors):
            first = seen.setdefault(id(t), i)
            if first != i:
                raise GradCheckError(f"tensor {i} is tensor {first} again: list each tensor "
                                     "once (a repeated tensor would be perturbed twice)")

    def check_gradient(self, grads: list[Any]) -> list[Any]:
        _refuse_none(grads)
        if len(grads) != len(self.tensors):
            raise GradCheckError(f"the gradient has {len(grads)} tensors but the variable has "
                                 f"{len(self.tensors)}")
        for i, g in enumerate(grads):
            shape = tuple(int(s) for s in g.shape)
            if shape != self.shape(i):
                raise GradCheckError(
                    f"gradient of tensor {i} has shape {shape}, but the variable has shape "
                    f"{self.shape(i)}: a gradient has the shape of its variable")
            if not self.is_floating(g):
                raise GradCheckError(f"gradient of tensor {i} is not floating point")
            self.check_device(i, g)
            if self.fused_norms:  # displace() computes the norms (and finds NaN/inf) then
                continue
            norm = self.square_norm(g)
            if not math.isfinite(norm):
                raise GradCheckError(f"gradient of tensor {i} contains NaN or inf")
            self.gradient_square_norms[i] = norm
        return grads


def _refuse_none(grads: Sequence[Any]) -> None:
    for i, g in enumerate(grads):
        if g is None:
            raise GradCheckError(
                f"gradient of tensor {i} is None (a frozen tensor, or one f does not use): "
                "pass zeros of its shape, or leave the tensor out of x, e.g. "
                "[p for p in model.parameters() if p.requires_grad]")


class _NumpyBackend(_Backend):
    framework = "numpy"

    def __init__(self, f, variable, grad):
        super().__init__(f, variable, grad)
        array = np.asarray(variable)
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype,
                                                                           np.integer)):
            raise GradCheckError(f"x must be a real array, got dtype {array.dtype}")
        if np.issubdtype(array.dtype, np.integer):
            raise GradCheckError("x has an integer dtype: finite differences on integers are "
                                 "meaningless; pass x.astype(float)")
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

    def value_and_gradient(self):
        g = self.grad_source(self.x) if callable(self.grad_source) else self.grad_source
        g = np.asarray(g)
        if g.dtype == object:
            raise GradCheckError("the gradient is not a numeric array")
        if not np.issubdtype(g.dtype, np.floating) and not np.issubdtype(g.dtype, np.integer):
            raise GradCheckError(f"the gradient has dtype {g.dtype}; it must be real")
        return None, self.check_gradient([g.astype(np.float64)])

    def random_direction(self, index, seed, scale):
        return np.random.default_rng([seed, index]).standard_normal(self.x.shape) * scale

    def set_perturbed(self, index, h, direction):
        np.add(self.backup, h * direction, out=self.x)

    def restore(self, index):
        self.x[...] = self.backup

    def dot(self, a, b):
        return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))

    def square_norm(self, a):
        return float(np.sum(np.square(np.asarray(a, np.float64))))

    def to_numpy(self, a):
        return np.asarray(a)

    def rms(self, index):
        return float(np.sqrt(np.mean(np.square(self.backup)))) if self.backup.size else 0.0

    def original(self, index):
        return self.backup


class _TorchBackend(_Backend):
    framework = "torch"

    def __init__(self, f, variable, grad):
        super().__init__(f, variable, grad)
        import torch

        self.torch = torch
        if isinstance(variable, torch.Tensor):
            self.tensors = [variable]
        else:
            self.tensors = list(variable)
            self.variable = self.tensors  # a generator (model.parameters()) is read once
        for i, t in enumerate(self.tensors):
            if not isinstance(t, torch.Tensor):
                raise GradCheckError(f"element {i} of x is a {type(t).__name__}, not a tensor")
            if not t.is_floating_point():
                raise GradCheckError(
                    f"tensor {i} has dtype {t.dtype}: finite differences on integers are "
                    "meaningless; pass floating-point tensors")
            if t.device.type == "meta":
                raise GradCheckError(
                    f"tensor {i} is on the meta device: it has a shape but no values; "
                    "materialise the model first (e.g. model.to_empty(device='cpu') and load "
                    "its weights)")
        # One backup copy per tensor, made when the tensor is first perturbed: perturbations
        # are written in place and undone exactly from it. (NaN or inf in x shows up as a
        # non-finite f(x), which value() reports.)
        self._backups: dict[int, Any] = {}
        self._saved: set[int] = set()  # tensors whose backup holds their values
        self._flats: dict[int, tuple] = {}
        self._joins: dict[tuple, Any] = {}

    def call_f(self):
        with self.torch.no_grad():
            return self.f(self.variable)

    def scalar(self, out):
        if isinstance(out, self.torch.Tensor) and out.numel() == 1 and out.is_floating_point():
            value = out.item()  # the common case, without a round trip through NumPy
            if math.isfinite(value):
                return float(value)
        return super().scalar(out)  # names what is wrong

    def value_and_gradient(self):
        torch = self.torch
        if self.grad_source is not None:
            g = self.grad_source(self.variable) if callable(self.grad_source) else \
                self.grad_source
            grads = [g] if isinstance(g, torch.Tensor) else list(g)
            _refuse_none(grads)
            return None, self.check_gradient([gi.detach() for gi in grads])
        flags = [t.requires_grad for t in self.tensors]
        try:
            for t in self.tensors:
                if t.is_leaf:
                    t.requires_grad_(True)
            with torch.enable_grad():
                out = self.f(self.variable)
            if not isinstance(out, torch.Tensor) or out.numel() != 1:
                shape = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
                raise GradCheckError(f"f must return a scalar tensor for autograd, got {shape}"
                                     "; reduce it (e.g. .sum()) or pass grad=")
            if out.is_complex():
                raise GradCheckError("f must return a real number, but returned a complex "
                                     "one: a gradient check needs a real-valued loss")
            if not out.requires_grad:
                raise GradCheckError("f's result does not depend on x through autograd (was it "
                                     "computed under no_grad, or from .detach()/.numpy()?)")
            grads = torch.autograd.grad(out.reshape(()), self.tensors, allow_unused=True)
        finally:
            for t, flag in zip(self.tensors, flags, strict=True):
                if t.is_leaf:
                    t.requires_grad_(flag)
        grads = [torch.zeros_like(t) if g is None else g for t, g in zip(self.tensors, grads,
                                                                          strict=True)]
        value = out.item()
        if not math.isfinite(value):
            raise GradCheckError(f"f returned {value} at the point being checked")
        return float(value), self.check_gradient(grads)

    def is_floating(self, g):
        return g.is_floating_point()

    def original(self, index):
        """The unperturbed tensor ``index`` (its backup, saved on first use)."""
        if index not in self._saved:
            with self.torch.no_grad():
                self._backups[index] = self.tensors[index].detach().clone()
            self._saved.add(index)
        return self._backups[index]

    def check_device(self, index, g):
        x = self.tensors[index]
        if g.device != x.device:
            raise GradCheckError(f"gradient of tensor {index} is on {g.device} but the tensor "
                                 f"is on {x.device}: move it with .to({str(x.device)!r})")

    def displace(self, ids, seed, index, h, grads):
        """x_i = x0_i + h s_i v_i for i in ``ids``; returns grad . (s v) over them.

        Why not one ``torch.randn`` per tensor: drawing a float64 direction costs ~16 ns per
        entry on a CPU, five forward passes of the benchmark's MLP at N = 1e7, and storing it
        costs a parameter-sized buffer. Large tensors are cut into chunks (2**18 entries on a CPU)
        that are drawn in float32 (3x faster, then cast: any fixed direction is a valid test)
        by a pool of threads and used while in cache: the backup copy of x (on the first
        move), grad . v, grad . grad and the perturbation; then dropped. Small tensors share
        one draw and multi-tensor (``torch._foreach_*``) operations, since at small N the
        per-operation overhead is what costs. A draw's seed depends only on (seed, direction,
        tensor[s], chunk), so the direction does not depend on the thread count, and it is
        regenerated, never stored.
        """
        torch = self.torch
        with torch.no_grad():
            flats = {i: self._flat(i, grads) for i in ids}
            self._measure_scales([i for i in ids if i not in self._scales])
            chunks, groups = [], {}
            for i in ids:
                x = flats[i][0]
                size = _CHUNK.get(x.device.type, _CHUNK["cpu"])
                if x.dim() == 1 and x.numel() >= size:
                    chunks += [(i, c, slice(start, min(start + size, x.numel())))
                               for c, start in enumerate(range(0, x.numel(), size))]
                else:
                    groups.setdefault((x.device, x.dtype), []).append(i)
            results = [self._displace_chunks(chunks, seed, index, h)] if chunks else []
            results += [self._displace_group(_seed_for(seed, index, *members), members, h)
                        for members in groups.values()]
        gv, squares = 0.0, dict.fromkeys(ids, 0.0)
        for dot, norms in results:
            gv += dot
            for i, square in norms:
                squares[i] += square
        for i, square in squares.items():
            if not math.isfinite(square):
                raise GradCheckError(f"gradient of tensor {i} contains NaN or inf")
            self.gradient_square_norms.setdefault(i, square)
        return gv

    def _flat(self, index, grads):
        """(x, backup buffer, grad) as flat views where x is contiguous, else in x's layout."""
        if index not in self._flats:
            x, g = self.tensors[index], grads[index].detach()
            if index not in self._backups:
                self._backups[index] = self.torch.empty_like(
                    x, memory_format=self.torch.contiguous_format)
            x0 = self._backups[index]
            if x.is_contiguous():
                x, x0, g = x.view(-1), x0.view(-1), g.reshape(-1)
            self._flats[index] = (x, x0, g)
        return self._flats[index]

    def _measure_scales(self, ids):
        """RMS of each tensor: one multi-tensor norm; a large tensor's RMS is estimated from
        65,536 evenly spaced entries (a step size needs no more, and a full pass costs as
        much as a copy)."""
        if not ids:
            return
        torch = self.torch
        views = []
        for i in ids:
            x = self.tensors[i].detach()
            x = x.view(-1) if x.is_contiguous() else x
            step = x.numel() // 2**16 if x.dim() == 1 else 0
            views.append(x[::step] if step > 1 else x)
        norms = torch.stack(torch._foreach_norm(
            [v if v.dtype in (torch.float32, torch.float64) else v.float() for v in views]))
        for i, v, norm in zip(ids, views, norms.tolist(), strict=True):
            self._scales[i] = norm / math.sqrt(max(v.numel(), 1)) or 1.0

    def _draw(self, seed, size, like, out=None):
        """``size`` standard normal numbers from ``seed``, in a dtype that is fast to draw
        (float32 on a CPU: 3x faster than float64; any fixed direction is a valid test)."""
        torch = self.torch
        generator = torch.Generator(device=like.device).manual_seed(seed)
        fast = _draw_dtype(like)
        if out is None or out.dtype != fast:
            out = torch.empty(size, dtype=fast, device=like.device)
        return out.normal_(generator=generator)

    def _accumulator(self, device):
        return self.torch.float32 if device.type == "mps" else self.torch.float64  # no f64 there

    def _displace_chunks(self, chunks, seed, index, h):
        """Large tensors, a chunk at a time: save (on the first move), draw, dot, perturb.

        On a CPU the chunks go to a thread pool, with torch set to one thread meanwhile: a
        torch operation (or BLAS call) that goes parallel from a pool thread starts an OpenMP
        team for that thread, whose idle threads slowed every later torch operation of the
        process by up to 1.7x in measurements. (Drawing everything first on the pool, then
        using torch's own threads for the rest, made this step a third slower at N = 1e7.)
        """
        torch = self.torch
        device = self.tensors[chunks[0][0]].device
        jobs = [(_seed_for(seed, index, i, c), i, part, h) for i, c, part in chunks]
        threads = torch.get_num_threads()
        pooled = device.type == "cpu" and len(jobs) > 1 and threads > 1
        if pooled:
            torch.set_num_threads(1)
        try:
            values = torch.stack(_map(self._displace_chunk, jobs, device, threads)).tolist()
        finally:  # every chunk ran, and saved its part of x before anything could fail
            self._saved.update(i for i, *_ in chunks)
            if pooled:
                torch.set_num_threads(threads)
        dot, squares = 0.0, {}
        for (i, *_), (chunk_dot, square) in zip(chunks, values, strict=True):
            dot += chunk_dot * self._scales[i]
            squares[i] = squares.get(i, 0.0) + square
        return dot, list(squares.items())

    def _displace_chunk(self, job):
        """One chunk, while it is in cache: save, draw, grad . v and grad . grad, perturb."""
        torch = self.torch
        seed, i, part, h = job
        with torch.no_grad():  # grad mode is per thread: a pool thread starts with it on
            x, x0, g = (t[part] for t in self._flats[i])
            if i not in self._saved:
                x0.copy_(x)
            acc = self._accumulator(x.device)
            v = self._draw(seed, x.numel(), x, out=_scratch("draw", x))
            if v.dtype != x.dtype:
                v = _scratch("cast", x, x.dtype).copy_(v)
            ga = g if g.dtype == acc else _scratch("g", x, acc).copy_(g)
            va = v if v.dtype == acc else _scratch("v", x, acc).copy_(v)
            torch.add(x0, v, alpha=h * self._scales[i], out=x)
            return torch.stack((torch.dot(ga, va), torch.dot(ga, ga)))

    def _displace_group(self, seed, members, h):
        """Small tensors of one device and dtype: one draw, multi-tensor operations."""
        torch = self.torch
        xs, x0s, gs = zip(*(self._flats[i] for i in members), strict=True)
        unsaved = [k for k, i in enumerate(members) if i not in self._saved]
        if unsaved:
            torch._foreach_copy_([x0s[k] for k in unsaved], [xs[k] for k in unsaved])
            self._saved.update(members)
        v = self._draw(seed, sum(x.numel() for x in xs), xs[0]).to(xs[0].dtype)
        vs = v.split([x.numel() for x in xs]) if len(xs) > 1 else (v,)
        vs = [part if x.dim() == 1 else part.view(x.shape)
              for part, x in zip(vs, xs, strict=True)]
        torch._foreach_mul_(vs, [self._scales[i] for i in members])  # v_i = s_i v_i, in v
        acc = self._accumulator(v.device)
        g = self._joined(members, gs, acc)
        dot = torch.dot(g, v if v.dtype == acc else v.to(acc))
        torch._foreach_add_(list(xs), vs, alpha=h)  # x is at x0 here: x = x0 + h s v
        values = torch.stack([dot, *torch._foreach_norm(list(gs))]).tolist()
        return values[0], [(i, n * n) for i, n in zip(members, values[1:], strict=True)]

    def _joined(self, members, gs, acc):
        """The gradients of ``members``, flat and end to end (made once per check)."""
        key = tuple(members)
        if key not in self._joins:
            flat = [g.reshape(-1) for g in gs]
            joined = self.torch.cat(flat) if len(flat) > 1 else flat[0]
            self._joins[key] = joined if joined.dtype == acc else joined.to(acc)
        return self._joins[key]

    def rescale(self, ids, factor):
        with self.torch.no_grad():  # x = x0 + factor (x - x0), in one fused pass
            self.torch._foreach_lerp_([self.tensors[i] for i in ids],
                                      [self._backups[i] for i in ids], 1.0 - factor)

    def restore_all(self, ids):
        ids = [i for i in ids if i in self._saved]
        if ids:
            with self.torch.no_grad():
                self.torch._foreach_copy_([self.tensors[i] for i in ids],
                                          [self._backups[i] for i in ids])

    def set_perturbed(self, index, h, direction):
        with self.torch.no_grad():  # one fused pass: x = x0 + h v
            self.torch.add(self.original(index), direction, alpha=h, out=self.tensors[index])

    def restore(self, index):
        if index in self._saved:
            with self.torch.no_grad():
                self.tensors[index].copy_(self._backups[index])

    def dot(self, a, b):
        # torch.dot on flat views: no temporary the size of the parameters
        return float(self.torch.dot(a.reshape(-1), b.reshape(-1).to(a.dtype)))

    def square_norm(self, a):
        return self.dot(a, a)

    def to_numpy(self, a):
        a = a.detach().cpu()
        # NumPy has no bfloat16: widen it (exactly) to float32 first
        return (a.float() if a.dtype == self.torch.bfloat16 else a).numpy()

    def scale(self, index):
        if index not in self._scales:
            self._measure_scales([index])
        return self._scales[index]


class _TensorflowBackend(_Backend):
    framework = "tensorflow"

    def __init__(self, f, variable, grad):
        super().__init__(f, variable, grad)
        tf = sys.modules["tensorflow"]
        self.tf = tf
        single = isinstance(variable, (tf.Tensor, tf.Variable))
        items = [variable] if single else list(variable)
        for i, t in enumerate(items):
            if not isinstance(t, (tf.Tensor, tf.Variable)):
                raise GradCheckError(f"element {i} of x is a {type(t).__name__}, not a tensor")
            if not t.dtype.is_floating:
                raise GradCheckError(
                    f"tensor {i} has dtype {t.dtype.name}: finite differences on integers are "
                    "meaningless; pass floating-point tensors")
        self.is_variable = [isinstance(t, tf.Variable) for t in items]
        self.backups = [tf.identity(t) for t in items]
        # Tensors are immutable: evaluate f on fresh tensors; variables are assigned in place.
        self.current = list(items)
        self.tensors = self.current
        self.single = single

    def _argument(self):
        return self.current[0] if self.single else self.current

    def call_f(self):
        return self.f(self._argument())

    def value_and_gradient(self):
        tf = self.tf
        if self.grad_source is not None:
            g = self.grad_source(self._argument()) if callable(self.grad_source) else \
                self.grad_source
            grads = [g] if isinstance(g, (tf.Tensor, tf.Variable)) else list(g)
            _refuse_none(grads)
            return None, self.check_gradient([tf.convert_to_tensor(gi) for gi in grads])
        with tf.GradientTape() as tape:
            for t in self.current:
                tape.watch(t)
            out = self.f(self._argument())
        if not isinstance(out, (tf.Tensor, tf.Variable)):
            raise GradCheckError(
                f"f returned a {'Python float' if isinstance(out, float) else type(out).__name__}"
                ", which the GradientTape cannot differentiate (float(...) and .numpy() end "
                "its record): return the TensorFlow tensor itself, or pass grad=")
        if tf.size(out) != 1:
            raise GradCheckError(f"f must return a scalar, got shape {tuple(out.shape)}; "
                                 "reduce it (e.g. tf.reduce_sum) or pass grad=")
        grads = tape.gradient(out, self.current)
        grads = [tf.zeros_like(t) if g is None else tf.convert_to_tensor(g)
                 for t, g in zip(self.current, grads, strict=True)]
        value = float(tf.reshape(out, ()))
        if not math.isfinite(value):
            raise GradCheckError(f"f returned {value} at the point being checked")
        return value, self.check_gradient(grads)

    def random_direction(self, index, seed, scale):
        t = self.backups[index]
        return self.tf.random.stateless_normal(t.shape, seed=[seed % 2**31, index],
                                               dtype=t.dtype) * scale

    def set_perturbed(self, index, h, direction):
        new = self.backups[index] + self.tf.cast(h, direction.dtype) * direction
        if self.is_variable[index]:
            self.current[index].assign(new)
        else:
            self.current[index] = new

    def restore(self, index):
        if self.is_variable[index]:
            self.current[index].assign(self.backups[index])
        else:
            self.current[index] = self.backups[index]

    def dot(self, a, b):
        tf = self.tf
        return float(tf.reduce_sum(tf.cast(a, tf.float64) * tf.cast(b, tf.float64)))

    def square_norm(self, a):
        return self.dot(a, a)

    def to_numpy(self, a):
        return np.asarray(a.numpy() if hasattr(a, "numpy") else a)

    def rms(self, index):
        b = self.backups[index]
        return math.sqrt(self.square_norm(b) / max(int(np.prod(b.shape)), 1))

    def is_floating(self, g):
        return g.dtype.is_floating

    def original(self, index):
        return self.backups[index]


def _backend(f: Callable, x: Any, grad: Any) -> _Backend:
    if not callable(f):
        raise GradCheckError(f"f must be a function of x, got {type(f).__name__}")
    if not isinstance(x, (list, tuple, np.ndarray)) and hasattr(x, "__iter__") and \
            not hasattr(x, "shape"):
        x = list(x)  # e.g. model.parameters()
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], tuple) and len(x[0]) == 2 \
            and isinstance(x[0][0], str):
        raise GradCheckError("x holds (name, tensor) pairs, as model.named_parameters() "
                             "yields: pass list(model.parameters()), or [p for _, p in pairs]")
    x = _without_keras_wrappers(x)
    probe = x[0] if isinstance(x, (list, tuple)) and x and framework_of(x[0]) != "numpy" else x
    kind = framework_of(probe)
    backend = {"torch": _TorchBackend, "tensorflow": _TensorflowBackend}.get(
        kind, _NumpyBackend)(f, x, grad)
    backend.refuse_duplicates()
    return backend


def _without_keras_wrappers(x: Any) -> Any:
    """Keras 3 variables (``model.trainable_variables``) wrap a tf.Variable: check that one.

    They are not ``tf.Variable``s themselves, so TensorFlow's tape and assign would not see
    them as such; their ``.value`` is the variable the layer reads.
    """
    def unwrap(v: Any) -> Any:
        inner = getattr(v, "value", None) if type(v).__module__.startswith("keras") else None
        return inner if inner is not None and framework_of(inner) == "tensorflow" else v

    return [unwrap(v) for v in x] if isinstance(x, (list, tuple)) else unwrap(x)


# --------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------


def _seed_for(seed: int, *where: int) -> int:
    """A reproducible seed per (seed, direction, tensor[, chunk]): directions are regenerated,
    not stored."""
    return zlib.crc32("/".join(map(str, (seed, *where))).encode())


# Entries per chunk of a drawn direction (each chunk has its own seed; smaller tensors share one
# draw): a CPU chunk (2 MiB in float64) stays in cache while it is used; an accelerator wants
# few, large launches.
_CHUNK = {"cpu": 2**18, "cuda": 2**26, "mps": 2**24}
_POOLS: dict = {}  # thread count -> a pool of that many threads, made on first use
_SCRATCH = threading.local()


def _draw_dtype(like: Any) -> Any:
    torch = sys.modules["torch"]
    return torch.float32 if like.device.type == "cpu" or like.element_size() < 4 else like.dtype


def _scratch(name: str, like: Any, dtype: Any = None) -> Any:
    """A chunk-sized buffer of this thread's, reused from chunk to chunk and check to check.

    Only on a CPU: allocating a fresh 1-2 MiB temporary per chunk made glibc map and unmap
    memory, and the page faults cost a fifth of the chunk work at N = 1e7. Each thread of the
    pool keeps at most a few chunks' worth (8 MiB). Elsewhere, a fresh tensor (the CUDA caching
    allocator makes that cheap)."""
    torch = sys.modules["torch"]
    dtype = dtype or _draw_dtype(like)
    n = like.numel()
    if like.device.type != "cpu":
        return torch.empty(n, dtype=dtype, device=like.device)
    key = f"{name}/{dtype}"
    buffer = getattr(_SCRATCH, key, None)
    if buffer is None or buffer.numel() < n:
        buffer = torch.empty(max(n, _CHUNK["cpu"]), dtype=dtype)
        setattr(_SCRATCH, key, buffer)
    return buffer[:n]


def _map(fn: Callable, jobs: list, device: Any, workers: int) -> list:
    """``[fn(job) for job in jobs]``, on a pool of ``workers`` threads for CPU chunks.

    Torch releases the GIL inside its kernels and draws random numbers for one tensor on one
    core, so threads are what spread the work over the cores. All jobs finish before this
    returns or raises (the first error), so that none still writes to x when the caller
    restores it.
    """
    if len(jobs) < 2 or device.type != "cpu" or workers < 2:
        return [fn(job) for job in jobs]
    import concurrent.futures

    workers = min(workers, 16)
    if workers not in _POOLS:
        _POOLS[workers] = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="check_grad")
    futures = [_POOLS[workers].submit(fn, job) for job in jobs]
    concurrent.futures.wait(futures)
    return [future.result() for future in futures]


def _ladder(backend: _Backend, f0: float, grads: list[Any], tensor_ids: Sequence[int],
            seed: int, index: int, h0: float, rungs: int, eps: float,
            judge: Callable[[dict], str] | None = None) -> dict:
    """Taylor ladder along one direction (restricted to ``tensor_ids``).

    With ``judge``, a failed ladder is also checked for a kink (``_kink_along``) before the
    parameters are restored, and the result carries its ``verdict``.
    """
    steps = [h0 / 2**k for k in range(rungs)]
    values = []
    try:
        gv = backend.displace(tensor_ids, seed, index, steps[0], grads)
        values.append(backend.value())
        for _ in steps[1:]:
            backend.rescale(tensor_ids, 0.5)
            values.append(backend.value())
        result = _ladder_result(backend, f0, gv, tensor_ids, index, steps,
                                values, eps)
        if judge is not None:
            result["verdict"] = judge(result)
            if result["verdict"] == "failed" and _kink_along(backend, f0, result, tensor_ids,
                                                              eps):
                result["verdict"] = "inconclusive"
                result["note"] = "f is not differentiable along this direction near x (its " \
                                 "second differences shrink like h, not h^2)"
    finally:
        backend.restore_all(tensor_ids)
    return result


def _ladder_result(backend: _Backend, f0: float, gv: float, tensor_ids: Sequence[int],
                   index: int, steps: list[float], values: list[float], eps: float) -> dict:
    """Remainders, rates and the Richardson estimate of the error of grad . v."""
    # The typical size of grad.v for this kind of direction: sqrt(sum (g_i * scale_i)^2).
    typical = math.sqrt(sum(backend.gradient_square_norms[i] * backend.scale(i) ** 2
                            for i in tensor_ids))
    rungs = len(steps)
    remainders = [fh - f0 - h * gv for fh, h in zip(values, steps, strict=True)]
    rates = [math.log2(abs(a) / abs(b)) if a != 0 and b != 0 else math.nan
             for a, b in itertools.pairwise(remainders)]
    # Richardson: r(h) = d h + c h^2 + e h^3 ... so (4 r(h/2) - r(h)) / h = d - e h^2 / 2 + ...,
    # where d = (true directional derivative) - grad.v is the error of the gradient along v.
    estimates = [(4 * remainders[k + 1] - remainders[k]) / steps[k] for k in range(rungs - 1)]
    d = estimates[-1]
    # How far d can be from zero for a right gradient: round-off in f, amplified by 1/h, and
    # the leftover e h^2 / 2, bounded by a 1% share of the curvature term c h = r(h) / h (the
    # third-order term is h times smaller than the second-order one at these steps). With
    # three or more rungs, the spread of successive estimates bounds the leftover as well.
    noise = 8 * eps * max(abs(f0), *(abs(v) for v in values)) / steps[-1]
    truncation = 0.01 * abs(remainders[0]) / steps[0]
    if len(estimates) > 1:
        truncation = max(truncation, 4 * abs(estimates[-1] - estimates[-2]))
    uncertainty = noise + truncation
    scale = max(typical, abs(gv), abs(gv + d), 1e-300)
    return {"index": index, "steps": steps, "remainders": remainders, "rates": rates,
            "f_plus": values,
            "grad_dot_v": gv, "numeric_dot_v": gv + d, "discrepancy": d,
            "uncertainty": uncertainty, "relative_error": abs(d) / scale, "scale": scale,
            "resolution": uncertainty / scale, "evaluations": len(steps)}


def _judge(result: dict, rtol: float, resolvable: float) -> str:
    """passed / failed / inconclusive for one ladder, from its error and its resolution."""
    error, resolution = result["relative_error"], result["resolution"]
    clearly_wrong = error > max(rtol, 3 * resolution)
    if clearly_wrong and (resolution <= resolvable or error > 10 * resolution + 0.05):
        return "failed"
    if resolution > resolvable:
        return "inconclusive"  # the measurement cannot tell a small error from none
    return "passed"


def _describe_failure(d: dict) -> str:
    gv, true = d["grad_dot_v"], d["numeric_dot_v"]
    if true != 0:
        ratio = gv / true
        if abs(ratio - 1) < 0.05:
            what = f"off by {100 * (ratio - 1):+.3g}%"
        elif abs(ratio + 1) < 0.05:
            what = "the sign looks flipped"
        elif abs(ratio - round(ratio)) < 0.05 and round(ratio) not in (0, 1):
            what = f"off by a factor of ~{round(ratio)}"
        elif abs(1 / ratio - round(1 / ratio)) < 0.05 and ratio != 0 and round(1 / ratio) > 1:
            what = f"off by a factor of ~1/{round(1 / ratio)}"
        else:
            what = f"off by a factor of {ratio:.4g}"
    else:
        what = "nonzero where finite differences see no change"
    return (f"the gradient is {what} along direction {d['index']} (grad.v = {gv:.6g}, "
            f"finite differences give {true:.6g}); remainder rates {_fmt_rates(d['rates'])}, "
            "where a right gradient gives 2")


def _fmt_rates(rates: Sequence[float]) -> str:
    return "[" + ", ".join(f"{r:.2f}" if math.isfinite(r) else "n/a" for r in rates) + "]"


def _kink_along(backend: _Backend, f0: float, result: dict, tensor_ids: Sequence[int],
                eps: float) -> bool:
    """Second differences along a failed direction: ~h^2 if f is smooth there, ~h at a kink.

    A wrong gradient leaves them alone (they do not involve the gradient), so this tells a
    non-differentiable f from a wrong gradient, for two more evaluations of f. It runs while
    x is still displaced by the last (smallest) step h, and mirrors it: -h, then -2h.
    """
    (big, small), (f_big, f_small) = result["steps"][-2:], result["f_plus"][-2:]
    backend.rescale(tensor_ids, -1.0)
    second_small = f_small + backend.value() - 2 * f0
    backend.rescale(tensor_ids, big / small)
    second_big = f_big + backend.value() - 2 * f0
    result["evaluations"] += 2
    noise = 8 * eps * max(abs(f0), *(abs(v) for v in result["f_plus"]))
    if abs(second_big) <= 10 * noise or second_small == 0:
        return False
    return math.log2(abs(second_big) / abs(second_small)) < 1.5


def check_grad(
    f: Callable,
    x: Any,
    grad: Any = None,
    *,
    mode: str = "auto",
    directions: int = 1,
    seed: int = 0,
    rtol: float | None = None,
    rungs: int = 2,
    value: float | None = None,
) -> GradCheckReport:
    """Check the gradient of ``f`` at ``x`` against finite differences.

    ``x`` is a NumPy array, a torch tensor or a list of them (e.g.
    ``list(model.parameters())``), or a TensorFlow tensor/variable or a list of them (Keras 3
    variables, ``model.trainable_variables``, are checked through the tf.Variable they wrap);
    ``f`` is called with ``x`` as given, and ``x`` is left exactly as it was, whatever ``f``
    does. ``grad`` is the gradient to check: a function of ``x``, or the
    gradient itself (an array, or a list of tensors like ``x``). Left out, the gradient is
    computed by autodiff (PyTorch autograd, TensorFlow ``GradientTape``); NumPy needs it given.

    ``mode`` is ``"full"``, ``"directional"`` or ``"auto"`` (full up to 2,000 coordinates).
    ``directions`` and ``rungs`` set the size of the directional check (``rungs`` evaluations
    of ``f`` per direction), ``seed`` makes it reproducible, and ``rtol`` is the relative error
    of ``grad . v`` accepted (default: 1e-6 in float64; lower precisions are judged only when
    the measurement can resolve a 1e-3 error, else the verdict is "inconclusive"). ``value``
    is ``f(x)`` when the caller already has it alongside a given gradient (a training step
    computes both), which saves one evaluation.

    Returns a :class:`GradCheckReport`; raises :class:`GradCheckError` for bad input.

    >>> report = check_grad(lambda x: (x**2).sum(), np.array([1.0, -2.0]), lambda x: 2 * x)
    >>> report.verdict, report.mode
    ('passed', 'full')
    >>> check_grad(lambda x: (x**2).sum(), np.array([1.0, -2.0]), lambda x: x).verdict
    'failed'
    """
    if mode not in ("auto", "full", "directional"):
        raise GradCheckError(f"mode must be 'auto', 'full' or 'directional', got {mode!r}")
    if int(directions) != directions or directions < 1:
        raise GradCheckError(f"directions must be a positive integer, got {directions}")
    if int(rungs) != rungs or rungs < 2:  # two rungs give one rate and one Richardson estimate
        raise GradCheckError(f"rungs must be an integer of at least 2, got {rungs}")
    # The check makes thousands of short-lived objects; at small N a cyclic garbage collection
    # in the middle costs more than the check itself (as timeit, it pauses the collector).
    collecting = gc.isenabled()
    gc.disable()
    backend = None
    try:
        backend = _backend(f, x, grad)
        if mode == "auto":
            mode = "full" if backend.size <= FULL_MODE_LIMIT else "directional"
        if mode == "full":
            report = _check_full(backend, rtol)
        else:
            backend.fused_norms = backend.framework == "torch"
            report = _check_directional(backend, int(directions), seed, rtol, int(rungs), value)
        return report if report.verdict == "passed" else _unless_random(backend, report)
    finally:
        if backend is not None:  # whatever f did (raised, returned NaN), x is as it was
            backend.restore_all(range(len(backend.tensors)))
        if collecting:
            gc.enable()


def _unless_random(backend: _Backend, report: GradCheckReport) -> GradCheckReport:
    """A check that did not pass: first make sure f gives the same value twice at x.

    A loss with dropout left on, or one that samples a batch inside f, changes between any
    two evaluations; its finite differences measure the noise, not the slope, and would be
    misread as a wrong gradient or a kink. Two more evaluations, on the failing path only.
    """
    first, second = (backend.output_array(backend.call_f()).astype(np.float64)
                     for _ in range(2))
    report.evaluations += 2
    if np.array_equal(first, second, equal_nan=True):
        return report
    gave = (f"{float(first.reshape(()))!r} and {float(second.reshape(()))!r}" if first.size == 1
            else "different values")
    report.verdict = "inconclusive"
    report.summary = (f"f is not deterministic: two evaluations at the same x gave {gave}; turn "
                      "randomness off inside f (model.eval() for dropout, a fixed batch, a "
                      "fixed seed) and check again")
    return report


def _precision(backend: _Backend, rtol: float | None) -> tuple[float, float, float]:
    eps = EPSILON.get(backend.dtype, EPSILON["float32"])
    if rtol is None:
        rtol = 1e-6 if eps <= EPSILON["float64"] else 1e-3
    resolvable = 1e-3 if eps <= EPSILON["float64"] else 1e-4
    return eps, rtol, resolvable


def _check_directional(backend: _Backend, directions: int, seed: int, rtol: float | None,
                       rungs: int, value: float | None) -> GradCheckReport:
    eps, rtol, resolvable = _precision(backend, rtol)
    f0, grads = backend.value_and_gradient()
    # a gradient given as a function is evaluated once; one given as an array costs nothing
    gradient_passes = 1 if backend.grad_source is None or callable(backend.grad_source) else 0
    evaluations = 0
    if f0 is None and value is not None:
        if not math.isfinite(float(value)):
            raise GradCheckError(f"value={value} is not a finite number")
        f0 = float(value)
    if f0 is None:
        f0 = backend.value()
        evaluations += 1
    h0 = eps ** (1 / 3) * 4  # near-optimal for a Richardson step: truncation ~ h^2, noise ~ eps/h
    all_ids = list(range(len(backend.tensors)))
    results = []
    for k in range(directions):
        result = _ladder(backend, f0, grads, all_ids, seed, k, h0, rungs, eps,
                         judge=lambda r: _judge(r, rtol, resolvable))
        evaluations += result["evaluations"]
        results.append(result)
    verdicts = {r["verdict"] for r in results}
    tensors: list[dict] = []
    if "failed" in verdicts:
        worst = max((r for r in results if r["verdict"] == "failed"),
                    key=lambda r: r["relative_error"])
        verdict, summary = "failed", _describe_failure(worst)
        if len(all_ids) > 1:  # localise: the same check, one tensor at a time
            for i in all_ids:
                r = _ladder(backend, f0, grads, [i], seed, 0, h0, rungs, eps)
                evaluations += r["evaluations"]
                r_verdict = _judge(r, rtol, resolvable)
                ratio = r["grad_dot_v"] / r["numeric_dot_v"] if r["numeric_dot_v"] else None
                tensors.append({"index": i, "shape": backend.shape(i), "verdict": r_verdict,
                                "relative_error": r["relative_error"],
                                "ratio": ratio if r_verdict == "failed" else None})
            bad = [t["index"] for t in tensors if t["verdict"] == "failed"]
            if bad:
                summary += f"; per-tensor checks locate it in tensor{'s' if len(bad) > 1 else ''}" \
                           f" {', '.join(map(str, bad))}"
    elif verdicts == {"passed"}:
        rel = max(r["relative_error"] for r in results)
        verdict = "passed"
        summary = (f"grad.v agrees with finite differences to {rel:.1e} (relative) along "
                   f"{len(results)} random direction{'s' if len(results) > 1 else ''}; "
                   f"remainder rates {_fmt_rates(results[0]['rates'])}")
    else:
        verdict = "inconclusive"
        notes = [r["note"] for r in results if r.get("note")]
        if notes:
            summary = notes[0]
        else:
            summary = (f"finite differences in {backend.dtype} cannot resolve the gradient "
                       f"(uncertainty {max(r['resolution'] for r in results):.1e} relative); "
                       "check in float64: " + {
                           "torch": "model.double() / x.double()",
                           "tensorflow": "tf.cast(x, tf.float64)",
                           "numpy": "x.astype(np.float64)"}[backend.framework])
    return GradCheckReport(
        verdict=verdict, mode="directional", framework=backend.framework, size=backend.size,
        dtype=backend.dtype, summary=summary, evaluations=evaluations,
        gradient_passes=gradient_passes,
        directions=[{k: v for k, v in r.items() if k in (
            "index", "grad_dot_v", "numeric_dot_v", "relative_error", "rates", "verdict",
            "note", "steps", "remainders")} for r in results],
        tensors=tensors)


def _check_full(backend: _Backend, rtol: float | None) -> GradCheckReport:
    """Central differences per coordinate (in float64 for NumPy), worst entries named."""
    eps, rtol, _ = _precision(backend, rtol)
    first = None
    if backend.framework == "numpy":  # one evaluation tells a vector f from a scalar one
        first = backend.call_f()
        if np.asarray(first).size != 1:
            return _check_jacobian(backend, np.asarray(first).shape, rtol)
    f0, grads = backend.value_and_gradient()
    evaluations = 0
    if f0 is None:  # the value comes with an autodiff gradient, else from that evaluation
        f0 = backend.scalar(first) if first is not None else backend.value()
        evaluations = 1
    numeric, noise, steps, gaps = [], [], [], []
    for t in range(len(backend.tensors)):
        shape = backend.shape(t)
        base = backend.to_numpy(backend.original(t)).astype(np.float64)
        est, bound, step, gap = (np.zeros(shape) for _ in range(4))
        for idx in np.ndindex(shape):
            step[idx] = eps ** (1 / 3) * max(1.0, abs(float(base[idx])))
            f_plus, f_minus = _pair(backend, t, idx, step[idx])
            evaluations += 2
            est[idx] = (f_plus - f_minus) / (2 * step[idx])
            bound[idx] = 10 * eps * max(abs(f0), abs(f_plus), abs(f_minus)) / step[idx]
            # how far apart the one-sided slopes are: f'' h where f is smooth
            gap[idx] = abs((f_plus - f0) - (f0 - f_minus)) / step[idx]
        numeric.append(est)
        noise.append(bound)
        steps.append(step)
        gaps.append(gap)
    given = [backend.to_numpy(g).astype(np.float64) for g in grads]
    kinks = []
    # An entry that disagrees, or whose one-sided slopes differ by more than a smooth f
    # explains easily, is measured again at half the step. Where f is smooth, the two central
    # differences agree to O(h^2), and the gap between the one-sided slopes (f'' h) halves;
    # the smaller step's difference replaces the first. At a kink at x the gap is the jump in
    # slope whatever the step, and kinks within the step's reach make the two central
    # differences disagree (their error is O(h), not O(h^2)). Either way f is not
    # differentiable at the resolution of the step, and no finite difference can judge the
    # gradient there: "inconclusive", never "failed". All thresholds are relative to the
    # gradient's own entries, so none depends on the scale of f.
    scale = _largest_entry(given, numeric)
    tolerances = _tolerances(given, numeric, noise, rtol)
    suspects = set(_disagreeing(given, numeric, tolerances))
    for t, (g, n, gap, rn) in enumerate(zip(given, numeric, gaps, noise, strict=True)):
        size = np.maximum(np.maximum(np.abs(g), np.abs(n)), 1e-3 * scale)
        curved = (gap > 10 * rn) & (gap > 1e-3 * size)
        suspects.update((t, tuple(idx)) for idx in np.argwhere(curved))
    for t, idx in sorted(suspects):
        h, gap = steps[t][idx], gaps[t][idx]
        f_plus2, f_minus2 = _pair(backend, t, idx, h / 2)
        evaluations += 2
        gap2 = abs((f_plus2 - f0) - (f0 - f_minus2)) / (h / 2)
        estimate2 = (f_plus2 - f_minus2) / h
        kink_at_x = gap > 10 * noise[t][idx] and gap2 > 0.75 * gap
        unresolved = abs(estimate2 - numeric[t][idx]) > tolerances[t][idx]
        if kink_at_x or unresolved:
            kinks.append((t, idx))
        else:
            numeric[t][idx] = estimate2
            noise[t][idx] *= 2
    passes = 1 if backend.grad_source is None or callable(backend.grad_source) else 0
    return _full_report(backend, given, numeric, kinks, rtol, evaluations, passes, noise=noise)


def _pair(backend: _Backend, t: int, idx: tuple, h: float) -> tuple[float, float]:
    """f at x + h e_idx and x - h e_idx (coordinate ``idx`` of tensor ``t``), then x again."""
    unit = np.zeros(backend.shape(t))
    unit[idx] = 1.0
    direction = _like(backend, t, unit)
    backend.set_perturbed(t, h, direction)
    f_plus = backend.value()
    backend.set_perturbed(t, -h, direction)
    f_minus = backend.value()
    backend.restore(t)
    return f_plus, f_minus


def _tolerances(given, numeric, noise, rtol) -> list[np.ndarray]:
    """Per-entry tolerance of |gradient - central difference|.

    Relative to each entry (``rtol``), plus a small share of the largest entry (so entries
    near zero are not judged to more digits than the differences have), plus round-off. No
    absolute floor: multiplying f by any constant multiplies every term by it, so the verdict
    does not depend on the scale of the loss.
    """
    scale = _largest_entry(given, numeric)
    return [1e-8 * scale + rtol * np.maximum(np.abs(g), np.abs(n)) + rn
            for g, n, rn in zip(given, numeric, noise, strict=True)]


def _largest_entry(given, numeric) -> float:
    """The largest |entry| of the gradient or its estimate: the scale every threshold uses."""
    return max((float(np.max(np.abs(a))) for a in [*given, *numeric] if a.size), default=0.0)


def _disagreeing(given, numeric, tolerances) -> list[tuple[int, tuple]]:
    return [(t, idx) for t, (g, n, tol) in enumerate(zip(given, numeric, tolerances, strict=True))
            for idx in map(tuple, np.argwhere(np.abs(g - n) > tol))]


def _like(backend: _Backend, t: int, array: np.ndarray) -> Any:
    if backend.framework == "torch":
        ref = backend.tensors[t]
        return backend.torch.as_tensor(array, dtype=ref.dtype, device=ref.device)
    if backend.framework == "tensorflow":
        return backend.tf.constant(array, dtype=backend.original(t).dtype)
    return array


def _full_report(backend, given, numeric, kinks, rtol, evaluations, passes,
                 jacobian=False, noise=None) -> GradCheckReport:
    errors, rows = [], []
    noise = noise or [np.zeros_like(n) for n in numeric]
    scale = _largest_entry(given, numeric)
    unresolved = 0
    resolvable = 1e-3
    tolerances = _tolerances(given, numeric, noise, rtol)
    for t, (g, n, rn, tol) in enumerate(zip(given, numeric, noise, tolerances, strict=True)):
        err = np.abs(g - n)
        size = np.maximum(np.abs(g), np.abs(n))
        unresolved += int(np.sum(rn > resolvable * np.maximum(size, 1e-3 * scale)))
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: both exactly zero
            ratio = np.where(err == 0, 0.0, err / tol)
        for idx in np.ndindex(err.shape):
            rows.append((float(ratio[idx]), t, idx, float(g[idx]), float(n[idx])))
        errors.append(err)
    rows.sort(key=lambda r: -r[0])
    max_abs = max((float(e.max()) for e in errors if e.size), default=0.0)
    max_rel = max((float((e / np.maximum(np.maximum(np.abs(g), np.abs(n)), 1e-300)).max())
                   for e, g, n in zip(errors, given, numeric, strict=True) if e.size),
                  default=0.0)
    kinked = {(t, idx) for t, idx in kinks}
    bad = [r for r in rows if r[0] > 1 or (r[1], r[2]) in kinked]
    bad_smooth = [r for r in bad if (r[1], r[2]) not in kinked and r[0] > 1]

    def name(t, idx):
        return (f"[{', '.join(map(str, idx))}]" if len(given) == 1
                else f"tensor {t} [{', '.join(map(str, idx))}]")

    worst = [{"index": name(t, idx), "gradient": g, "numeric": n}
             for _, t, idx, g, n in (bad or rows)[:5]]
    what = "Jacobian" if jacobian else "gradient"
    if bad_smooth:
        verdict = "failed"
        _, t, idx, g, n = bad_smooth[0]
        factor = f" (ratio {g / n:.4g})" if n != 0 else ""
        summary = (f"{len(bad_smooth)} of {len(rows)} {what} entries disagree with central "
                   f"differences; worst at {name(t, idx)}: {g:.10g} vs {n:.10g}{factor}")
    elif bad:
        verdict = "inconclusive"
        summary = (f"f is not differentiable at x, or has kinks within the finite-difference "
                   f"step, in {len(bad)} coordinate(s), e.g. {name(bad[0][1], bad[0][2])}: "
                   "central differences cannot judge the gradient there")
    elif unresolved:
        verdict = "inconclusive"
        summary = (f"central differences in {backend.dtype} cannot resolve {unresolved} of "
                   f"{len(rows)} entries to 1e-3; check in float64")
    else:
        verdict = "passed"
        summary = (f"all {len(rows)} {what} entries agree with central differences "
                   f"(largest relative error {max_rel:.1e})")
    return GradCheckReport(verdict=verdict, mode="full", framework=backend.framework,
                           size=backend.size, dtype=backend.dtype, summary=summary,
                           evaluations=evaluations, gradient_passes=passes, worst=worst,
                           max_abs_error=max_abs, max_rel_error=max_rel)


def _check_jacobian(backend: _NumpyBackend, out_shape: tuple, rtol: float) -> GradCheckReport:
    """Full Jacobian of a vector-valued NumPy ``f``: ``grad`` gives shape out_shape + x.shape."""
    jac = backend.grad_source(backend.x) if callable(backend.grad_source) else backend.grad_source
    jac = np.asarray(jac, dtype=np.float64)
    expected = tuple(out_shape) + backend.x.shape
    if jac.shape != expected:
        raise GradCheckError(f"f returns shape {tuple(out_shape)}, so its Jacobian must have "
                             f"shape {expected} (outputs first), got {jac.shape}")
    eps = EPSILON["float64"]
    numeric = np.zeros(expected)
    evaluations = 0
    for idx in np.ndindex(backend.x.shape):
        h = eps ** (1 / 3) * max(1.0, abs(float(backend.backup[idx])))
        unit = np.zeros(backend.x.shape)
        unit[idx] = 1.0
        backend.set_perturbed(0, h, unit)
        plus = np.asarray(backend.f(backend.x), dtype=np.float64)
        backend.set_perturbed(0, -h, unit)
        minus = np.asarray(backend.f(backend.x), dtype=np.float64)
        backend.restore(0)
        evaluations += 2
        numeric[(Ellipsis, *idx)] = (plus - minus) / (2 * h)
    return _full_report(backend, [jac], [numeric], [], rtol, evaluations, 1, jacobian=True)
