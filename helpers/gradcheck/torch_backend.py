"""PyTorch: x is a tensor, a list of them, or a module (its trainable parameters).

:class:`TorchBackend` is the plain version: each tensor's direction drawn whole, operations
one tensor at a time. :class:`FastTorchBackend` (``torch_fast.py``) moves x along the same
directions with chunks, a thread pool and multi-tensor operations; the plain one is the
reference it is tested against.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from helpers.gradcheck.backend import Backend, VectorOutput, refuse_none, seed_for
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
            if not t.is_floating_point():
                raise GradCheckError(
                    f"tensor {i} has dtype {t.dtype}: finite differences on integers are "
                    "meaningless; pass floating-point tensors")
            if t.device.type == "meta":
                raise GradCheckError(
                    f"tensor {i} is on the meta device: it has a shape but no values; "
                    "materialise the model first (e.g. model.to_empty(device='cpu') and load "
                    "its weights)")
        # One backup per tensor, made when it is first moved; moves are written in place and
        # undone exactly from it. (NaN or inf in x shows up as a non-finite f(x).)
        self.backups: dict[int, object] = {}

    # ---- evaluation and the gradient -------------------------------------------------------
    def call_f(self):
        with self.torch.no_grad():
            return self.f(self.variable)

    def scalar(self, out):
        if isinstance(out, self.torch.Tensor) and out.numel() == 1 and out.is_floating_point():
            value = out.item()  # the common case, without a round trip through NumPy
            if math.isfinite(value):
                return float(value)
        return super().scalar(out)  # names what is wrong

    def _given(self):
        g = self.grad_source(self.variable) if callable(self.grad_source) else self.grad_source
        return [g] if isinstance(g, self.torch.Tensor) else list(g)

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
            return None, self.check_gradient([g.detach() for g in grads],
                                             measure_norms=not self.fuses_norms)

        def run():
            out = self._autodiff_output()
            if out.numel() != 1:
                raise VectorOutput(tuple(out.shape))
            return out, torch.autograd.grad(out.reshape(()), self.tensors, allow_unused=True)

        out, grads = self._recorded(run)
        grads = [torch.zeros_like(t) if g is None else g
                 for t, g in zip(self.tensors, grads, strict=True)]
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
    def original(self, index):
        if index not in self.backups:
            with self.torch.no_grad():
                self.backups[index] = self.tensors[index].detach().clone()
        return self.backups[index]

    def statistics(self):
        """Each tensor's standard deviation and RMS, estimated from at most 65,536 evenly
        spaced entries (a step size needs no more; a full pass costs as much as a copy), in
        float64 and a few multi-tensor operations (at small N, their number is the cost)."""
        torch = self.torch
        samples = []
        for x in self.tensors:
            x = x.detach().reshape(-1)
            stride = x.numel() // 2**16
            samples.append((x[::stride] if stride > 1 else x).to(torch.float64))
        sums = torch.stack([s.sum() for s in samples]).tolist()
        squares = torch.stack(torch._foreach_norm(samples)).tolist()
        out = []
        for sample, total, norm in zip(samples, sums, squares, strict=True):
            n = max(sample.numel(), 1)
            mean, mean_square = total / n, norm * norm / n
            # E[x^2] - E[x]^2 in float64: exact enough for a step size even when the entries
            # sit far from zero (1e4 + O(1) keeps eight digits of the spread)
            out.append((math.sqrt(max(mean_square - mean * mean, 0.0)) if n > 1 else 0.0,
                        math.sqrt(mean_square)))
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
        with torch.no_grad():
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
        return float(self.torch.dot(a.reshape(-1), b.reshape(-1).to(a.dtype)))

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
