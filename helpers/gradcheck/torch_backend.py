"""PyTorch: x is a tensor, a list of them, or a module (its trainable parameters).

:class:`TorchBackend` is the plain version: each tensor's direction drawn whole, operations
one tensor at a time. :class:`FastTorchBackend` (``torch_fast.py``) moves x along the same
directions with chunks, a thread pool and multi-tensor operations; the plain one is the
reference it is tested against.
"""

from __future__ import annotations

import contextlib
import math
import sys

import numpy as np

from helpers.gradcheck.backend import (
    Backend,
    VectorOutput,
    dtype_name,
    refuse_none,
    seed_for,
)
from helpers.gradcheck.report import GradCheckError

# Entries per chunk of a drawn direction (each chunk has its own seed; smaller tensors of one
# device and dtype share one draw): a CPU chunk (2 MiB in float64) stays in cache while it is
# used; an accelerator wants few, large launches.
CHUNK = {"cpu": 2**18, "cuda": 2**26, "mps": 2**24}


def draw_dtype(like):
    """float32 on a CPU (3x faster to draw than float64; any fixed direction is a valid
    test), else the tensor's own dtype unless it is narrower than float32."""
    torch = sys.modules["torch"]
    return torch.float32 if like.device.type == "cpu" or like.element_size() < 4 else like.dtype


def draw(seed, size, like, out=None):
    """``size`` standard normal numbers from ``seed`` on ``like``'s device."""
    torch = sys.modules["torch"]
    generator = torch.Generator(device=like.device).manual_seed(seed)
    fast = draw_dtype(like)
    if out is None or out.dtype != fast:
        out = torch.empty(size, dtype=fast, device=like.device)
    return out.normal_(generator=generator)


def layout(tensors, ids):
    """How the direction over tensors ``ids`` is drawn: ``chunks`` (tensor, chunk number,
    slice) for large flat tensors, and ``groups`` of small tensors sharing one draw.

    The direction is a function of (seed, direction index, this layout) only, so the fast
    and the plain backend draw the same numbers."""
    chunks, groups = [], {}
    for i in ids:
        x = tensors[i]
        size = CHUNK.get(x.device.type, CHUNK["cpu"])
        if x.is_contiguous() and x.numel() >= size:
            chunks += [(i, c, slice(start, min(start + size, x.numel())))
                       for c, start in enumerate(range(0, x.numel(), size))]
        else:
            groups.setdefault((x.device, x.dtype), []).append(i)
    return chunks, list(groups.values())


@contextlib.contextmanager
def one_thread():
    """Torch's CPU reductions on one thread: a sum split over 2 threads adds in another order
    than over 1, and a check's numbers would change in the last bit with the thread count.
    The checker's own reductions (dots, norms, statistics) are memory-bound, and the fast
    backend spreads its large ones over its pool of threads itself, chunk by chunk."""
    torch = sys.modules["torch"]
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


def _listed(g):
    """A gradient given as a sequence, as a list (a generator is read once)."""
    if isinstance(g, (str, bytes, dict)) or not hasattr(g, "__iter__"):
        raise GradCheckError(f"the gradient is a {type(g).__name__}: give a tensor, or a list "
                             "of tensors like x")
    return list(g)


class TorchBackend(Backend):
    framework = "torch"
    float64_hint = "model.double() / x.double()"

    def __init__(self, f, variable, grad):
        super().__init__(f, variable, grad)
        import torch

        self.torch = torch
        if isinstance(variable, torch.nn.Module):
            self.tensors = [p for p in variable.parameters() if p.requires_grad]
            if not self.tensors:
                raise GradCheckError("the module has no trainable parameters to check")
        elif isinstance(variable, torch.Tensor):
            self.tensors = [variable]
        else:
            self.tensors = list(variable)
            self.variable = self.tensors  # a generator (model.parameters()) is read once
        for i, t in enumerate(self.tensors):
            if not isinstance(t, torch.Tensor):
                raise GradCheckError(f"element {i} of x is a {type(t).__name__}, not a tensor")
            if t.is_complex():
                raise GradCheckError(
                    f"tensor {i} has dtype {t.dtype}: check_grad checks real gradients; check "
                    "the real and imaginary parts as two real tensors (torch.view_as_real)")
            if not t.is_floating_point():
                raise GradCheckError(
                    f"tensor {i} has dtype {t.dtype}: finite differences on integers are "
                    "meaningless; pass floating-point tensors")
            if t.layout != torch.strided:
                raise GradCheckError(f"tensor {i} is a {t.layout} tensor: pass dense tensors "
                                     "(x.to_dense())")
            if t.is_inference():
                raise GradCheckError(
                    f"tensor {i} was made under torch.inference_mode(), which forbids changing "
                    "it in place: pass x.clone() made outside inference mode")
            if t.device.type == "meta":
                raise GradCheckError(
                    f"tensor {i} is on the meta device: it has a shape but no values; "
                    "materialise the model first (e.g. model.to_empty(device='cpu') and load "
                    "its weights)")
        self._refuse_overlaps()
        # One backup per tensor, made when it is first moved; moves are written in place and
        # undone exactly from it. (NaN or inf in x shows up as a non-finite f(x).)
        self.backups: dict[int, object] = {}

    def _refuse_overlaps(self):
        """Tensors whose entries share memory, within one tensor (``expand()``) or between
        two (a flat buffer listed with its views, tied weights listed twice): moving one entry
        would move others, so every finite difference would be wrong. Named, not checked."""
        spans = []
        for i, t in enumerate(self.tensors):
            if t.numel() > 1 and any(stride == 0 and size > 1
                                     for stride, size in zip(t.stride(), t.shape, strict=True)):
                raise GradCheckError(
                    f"tensor {i} is an expanded view: several of its entries are one number in "
                    "memory, so moving one moves the others; pass x.clone() (or x.contiguous())")
            if t.numel():
                start = t.data_ptr()
                end = start + t.element_size() * (1 + sum(
                    (size - 1) * stride for size, stride in zip(t.shape, t.stride(), strict=True)))
                spans.append((t.untyped_storage().data_ptr(), start, end, i))
        spans.sort()
        reach = {}  # storage -> (furthest end so far, its tensor)
        for storage, start, end, j in spans:
            furthest, i = reach.get(storage, (0, None))
            if i is not None and start < furthest and self.tensors[i] is not self.tensors[j]:
                first, second = sorted((i, j))
                raise GradCheckError(
                    f"tensors {first} and {second} share memory (one is a view of the other, or "
                    "both of one buffer): moving one would move the other; list each parameter "
                    "once, as separate tensors (e.g. [p.clone() for p in x] inside f's own "
                    "wiring), or check the buffer alone")
            if end > furthest:
                reach[storage] = (end, j)

    # ---- evaluation and the gradient -------------------------------------------------------
    def call_f(self):
        with self.torch.no_grad():
            return self.f(self.variable)

    def scalar(self, out):
        if isinstance(out, self.torch.Tensor) and out.numel() == 1 and out.is_floating_point():
            if self.output_dtype is None:
                self.output_dtype = dtype_name(out.dtype)
            value = out.item()  # the common case, without a round trip through NumPy
            if math.isfinite(value):
                return float(value)
        return super().scalar(out)  # names what is wrong

    def _given(self):
        """The gradient given (or what grad(x) returns), as tensors like x's, and copied where
        it shares memory with x (``grad=lambda v: v``): x is about to move."""
        torch = self.torch
        g = self.grad_source(self.variable) if callable(self.grad_source) else self.grad_source
        items = [g] if isinstance(g, (torch.Tensor, np.ndarray)) else _listed(g)
        out = []
        for i, item in enumerate(items[:len(self.tensors)]):
            if isinstance(item, (np.ndarray, np.generic, float, int)) and \
                    not isinstance(item, bool):
                item = torch.as_tensor(np.asarray(item), dtype=self.tensors[i].dtype,
                                       device=self.tensors[i].device)
            elif item is not None and not isinstance(item, torch.Tensor):
                raise GradCheckError(f"gradient of tensor {i} is a {type(item).__name__}, not "
                                     "a tensor or an array")
            if isinstance(item, torch.Tensor):
                item = item.detach()
                if item.layout != torch.strided:
                    item = item.to_dense()
                if self._shares_memory(item):
                    item = item.clone()
            out.append(item)
        return out + items[len(self.tensors):]

    def _shares_memory(self, g):
        storage = g.untyped_storage().data_ptr() if g.numel() else None
        return storage is not None and any(
            t.numel() and t.untyped_storage().data_ptr() == storage for t in self.tensors)

    def _recorded(self, fn):
        """fn() with every tensor of x requiring grad (as it was afterwards)."""
        torch = self.torch
        flags = [t.requires_grad for t in self.tensors]
        try:
            for t in self.tensors:
                if t.is_leaf:
                    t.requires_grad_(True)
            with torch.enable_grad():
                return fn()
        finally:
            for t, flag in zip(self.tensors, flags, strict=True):
                if t.is_leaf:
                    t.requires_grad_(flag)

    def _autodiff_output(self):
        torch = self.torch
        out = self.f(self.variable)
        if isinstance(out, (float, int)):
            raise GradCheckError(
                f"f returned a Python {type(out).__name__}, which autograd cannot "
                "differentiate (.item() and float(...) end its record): return the tensor "
                "itself, or pass grad=")
        if not isinstance(out, torch.Tensor):
            raise GradCheckError(f"f must return a tensor for autograd, got "
                                 f"{type(out).__name__}; or pass grad=")
        if out.is_complex():
            raise GradCheckError("f must return a real number, but returned a complex one: a "
                                 "gradient check needs a real-valued loss")
        if not out.requires_grad:
            raise GradCheckError("f's result does not depend on x through autograd (was it "
                                 "computed under no_grad, or from .detach()/.numpy()?)")
        return out

    def value_and_gradient(self):
        torch = self.torch
        if self.grad_source is not None:
            grads = self._given()
            refuse_none(grads)
            return None, self.check_gradient(grads, measure_norms=not self.fuses_norms)

        def run():
            out = self._autodiff_output()
            if out.numel() != 1:
                raise VectorOutput(tuple(out.shape))
            return out, torch.autograd.grad(out.reshape(()), self.tensors, allow_unused=True)

        out, grads = self._recorded(run)
        grads = [torch.zeros_like(t) if g is None else g.to_dense() if g.is_sparse else g
                 for t, g in zip(self.tensors, grads, strict=True)]
        self.output_dtype = dtype_name(out.dtype)
        value = out.item()
        if not math.isfinite(value):
            raise GradCheckError(f"f returned {value} at the point being checked")
        return float(value), self.check_gradient(grads, measure_norms=not self.fuses_norms)

    def jacobian(self, out_shape):
        if self.grad_source is not None:
            return self.check_jacobian(self._given(), out_shape)
        torch = self.torch

        def rows():
            out = self._autodiff_output().reshape(-1)
            result = [[] for _ in self.tensors]
            for k in range(out.numel()):  # one backward pass per output: full mode is small
                grads = torch.autograd.grad(out[k], self.tensors, retain_graph=True,
                                            allow_unused=True)
                for i, (t, g) in enumerate(zip(self.tensors, grads, strict=True)):
                    result[i].append(self.to_numpy(torch.zeros_like(t) if g is None else g))
            return result

        return [np.stack(r).astype(np.float64).reshape(tuple(out_shape) + self.shape(i))
                for i, r in enumerate(self._recorded(rows))]

    def weighted_sum(self, out, u):
        return (self.torch.as_tensor(u, dtype=out.dtype, device=out.device) * out).sum()

    # ---- moving x ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self):
        """x is backed up before f is first called: an f that changes x (an
        ``Embedding(max_norm=...)`` renormalises its rows on every call) still leaves x as it
        was before the check."""
        with super().session():
            for i in range(len(self.tensors)):
                self.original(i)
            yield

    def original(self, index):
        if index not in self.backups:
            with self.torch.no_grad():
                self.backups[index] = self.tensors[index].detach().clone()
        return self.backups[index]

    def statistics(self):
        """Each tensor's standard deviation and RMS, estimated from at most 65,536 evenly
        spaced entries (a step size needs no more; a full pass costs as much as a copy), in
        float64 and a few multi-tensor operations (at small N, their number is the cost).

        The deviation is the norm of the entries minus their mean, not sqrt(E[x^2] - E[x]^2):
        that difference leaves ~1e-8 of round-off for a tensor of ones (a LayerNorm gain as
        initialised), whose spread is exactly zero."""
        with one_thread():
            return self._statistics()

    def _statistics(self):
        torch = self.torch
        samples = []
        for x in self.tensors:
            x = x.detach().reshape(-1)
            stride = x.numel() // 2**16
            samples.append((x[::stride] if stride > 1 else x).to(torch.float64))
        counts = [max(s.numel(), 1) for s in samples]
        means = [m / n for m, n in zip(torch.stack([s.sum() for s in samples]).tolist(), counts,
                                       strict=True)]
        centred = torch._foreach_sub(samples, means)
        norms = torch.stack(torch._foreach_norm(centred) + torch._foreach_norm(samples)).tolist()
        out = []
        for k, n in enumerate(counts):
            spread, size = norms[k] / math.sqrt(n), norms[len(counts) + k] / math.sqrt(n)
            if not math.isfinite(size):  # entries near 1e300: scale down first
                size = self.norm(samples[k]) / math.sqrt(n)
                spread = self.norm(centred[k]) / math.sqrt(n)
            out.append((spread if n > 1 else 0.0, size))
        return out

    def direction(self, ids, seed, index):
        """The (unscaled) direction over tensors ``ids``, drawn whole: {tensor: v}."""
        torch = self.torch
        chunks, groups = layout(self.tensors, ids)
        parts = {}
        for i, c, part in chunks:
            x = self.tensors[i]
            parts.setdefault(i, []).append(
                draw(seed_for(seed, index, i, c), part.stop - part.start, x).to(x.dtype))
        out = {i: torch.cat(p).view(self.tensors[i].shape) for i, p in parts.items()}
        for members in groups:
            xs = [self.tensors[i] for i in members]
            v = draw(seed_for(seed, index, *members), sum(x.numel() for x in xs), xs[0])
            for i, piece in zip(members, v.to(xs[0].dtype).split([x.numel() for x in xs]),
                                strict=True):
                out[i] = piece.view(self.tensors[i].shape)
        return out

    def displace(self, ids, seed, index, h, grads):
        torch = self.torch
        with torch.no_grad(), one_thread():
            directions = self.direction(ids, seed, index)
            gv = 0.0
            for i in ids:
                v = directions[i] * self.scale(i)
                gv += float(torch.dot(grads[i].reshape(-1).double(), v.reshape(-1).double()))
                self._moves[i] = (v, h)
                self.set_perturbed(i, h, v)
        return gv

    def set_perturbed(self, index, h, direction):
        with self.torch.no_grad():
            self.torch.add(self.original(index), direction, alpha=h, out=self.tensors[index])

    def shift_entry(self, index, entry, h):
        x0 = self.original(index)
        with self.torch.no_grad():
            self.tensors[index][entry] = x0[entry] + h
            return float(self.tensors[index][entry].double() - x0[entry].double())

    def restore_entry(self, index, entry):
        with self.torch.no_grad():
            self.tensors[index][entry] = self.original(index)[entry]

    def restore(self, index):
        if index in self.backups:
            with self.torch.no_grad():
                self.tensors[index].copy_(self.backups[index])

    def from_numpy(self, index, array):
        x = self.tensors[index]
        return self.torch.as_tensor(array, dtype=x.dtype, device=x.device)

    def dot(self, a, b):
        # torch.dot on flat views: no temporary the size of the parameters
        with one_thread():
            return float(self.torch.dot(a.reshape(-1), b.reshape(-1).to(a.dtype)))

    def norm(self, a):
        with one_thread():
            return self._norm(a)

    def _norm(self, a):
        norm = float(self.torch.linalg.vector_norm(a.detach(), dtype=self.torch.float64))
        if math.isfinite(norm) or not bool(self.torch.isfinite(a).all()):
            return norm
        top = a.detach().abs().max().double()  # |a_i| near 1e300: a . a overflows
        return float(top * self.torch.linalg.vector_norm(a.detach().double() / top))

    def moved_dot(self, ids, grads):
        torch = self.torch
        with torch.no_grad(), one_thread():
            return math.fsum(float(torch.dot(grads[i].reshape(-1).double(), (
                self.tensors[i].detach().double() - self.original(i).double()).reshape(-1)))
                for i in ids)

    def to_numpy(self, a):
        a = a.detach().cpu()
        # NumPy has no bfloat16: widen it (exactly) to float32 first
        return (a.float() if a.dtype == self.torch.bfloat16 else a).numpy()

    def is_floating(self, g):
        return g.is_floating_point()

    def check_device(self, index, g):
        x = self.tensors[index]
        if g.device != x.device:
            raise GradCheckError(f"gradient of tensor {index} is on {g.device} but the tensor "
                                 f"is on {x.device}: move it with .to({str(x.device)!r})")
