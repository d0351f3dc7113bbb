"""The PyTorch backend's fast path: the same moves as :class:`TorchBackend`, at memory speed.

Why not one ``torch.randn`` per tensor: drawing a float64 direction costs ~16 ns per entry on
a CPU, five forward passes of the benchmark's MLP at N = 1e7, and storing it costs a
parameter-sized buffer. Large tensors are cut into chunks (``CHUNK``) that are drawn in
float32 (3x faster, then cast) by a pool of threads and used while in cache: grad . v,
grad . grad and the perturbation; then dropped. (x itself is backed up once, in one
multi-tensor copy, before f is first called: an f may change x on that call.) Small
tensors share one draw and multi-tensor (``torch._foreach_*``) operations, since at small N
the per-operation overhead is what costs. The numbers drawn are the plain backend's
(``layout`` and ``draw`` define them), so each is the reference for the other.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import threading

from helpers.gradcheck.backend import Backend, seed_for
from helpers.gradcheck.report import GradCheckError
from helpers.gradcheck.torch_backend import (
    CHUNK,
    TorchBackend,
    draw,
    draw_dtype,
    layout,
    one_thread,
)

_SCRATCH = threading.local()


def scratch(name, like, dtype=None):
    """A chunk-sized buffer of this thread's, reused from chunk to chunk and check to check.

    Only on a CPU: allocating a fresh 1-2 MiB temporary per chunk made glibc map and unmap
    memory, and the page faults cost a fifth of the chunk work at N = 1e7. Each thread keeps at
    most a few chunks' worth (8 MiB). Elsewhere, a fresh tensor (the CUDA caching allocator
    makes that cheap)."""
    import torch
    dtype = dtype or draw_dtype(like)
    n = like.numel()
    if like.device.type != "cpu":
        return torch.empty(n, dtype=dtype, device=like.device)
    key = f"{name}/{dtype}"
    buffer = getattr(_SCRATCH, key, None)
    if buffer is None or buffer.numel() < n:
        buffer = torch.empty(max(n, CHUNK["cpu"]), dtype=dtype)
        setattr(_SCRATCH, key, buffer)
    return buffer[:n]


class FastTorchBackend(TorchBackend):
    fuses_norms = True  # displace() measures grad . grad in the same pass

    def __init__(self, f, variable, grad):
        super().__init__(f, variable, grad)
        self._saved: set[int] = set()  # tensors whose backup holds their values
        self._flats: dict[int, tuple] = {}
        self._joins: dict[tuple, object] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._workers = min(self.torch.get_num_threads(), 16)  # read before one_thread()

    @contextlib.contextmanager
    def session(self):
        """The check's thread pool lives as long as the check (see ``Backend.session``); x is
        backed up first, in one multi-tensor copy (see ``TorchBackend.session``)."""
        with self._backed_up(), Backend.session(self):
            try:
                yield
            finally:
                if self._pool is not None:
                    self._pool.shutdown()
                    self._pool = None

    @contextlib.contextmanager
    def _backed_up(self):
        torch = self.torch
        with torch.no_grad():
            for i, x in enumerate(self.tensors):
                if i not in self.backups:
                    self.backups[i] = torch.empty_like(x, memory_format=torch.contiguous_format)
            torch._foreach_copy_([self.backups[i] for i in range(len(self.tensors))],
                                 self.tensors)
        self._saved.update(range(len(self.tensors)))
        yield

    def original(self, index):
        if index not in self._saved:
            with self.torch.no_grad():
                if index in self.backups:
                    self.backups[index].copy_(self.tensors[index])
                else:
                    self.backups[index] = self.tensors[index].detach().clone()
            self._saved.add(index)
        return self.backups[index]

    def restore(self, index):
        if index in self._saved:
            super().restore(index)

    def restore_all(self, ids):
        ids = [i for i in ids if i in self._saved]
        if ids:
            with self.torch.no_grad():
                self.torch._foreach_copy_([self.tensors[i] for i in ids],
                                          [self.backups[i] for i in ids])

    def rescale(self, ids, factor):
        with self.torch.no_grad():  # x = x0 + factor (x - x0), in one fused pass
            self.torch._foreach_lerp_([self.tensors[i] for i in ids],
                                      [self.backups[i] for i in ids], 1.0 - factor)

    def displace(self, ids, seed, index, h, grads):
        """x_i = x0_i + h s_i v_i for i in ``ids``; returns grad . (s v) over them.

        A draw's seed depends only on (seed, direction, tensor[s], chunk), so the direction
        does not depend on the thread count, and it is regenerated, never stored."""
        torch = self.torch
        with torch.no_grad(), one_thread():
            for i in ids:
                self._flat(i, grads)
            self.scale(ids[0])  # every tensor's step scale, measured once
            chunks, groups = layout(self.tensors, ids)
            results = [self._displace_chunks(chunks, seed, index, h)] if chunks else []
            results += [self._displace_group(seed_for(seed, index, *members), members, h)
                        for members in groups]
        gv, squares = 0.0, dict.fromkeys(ids, 0.0)
        for dot, norms in results:
            gv += dot
            for i, square in norms:
                squares[i] += square
        for i, square in squares.items():
            if i in self.gradient_norms:
                continue
            norm = math.sqrt(square) if math.isfinite(square) else self.norm(grads[i])
            if not math.isfinite(norm):
                raise GradCheckError(f"gradient of tensor {i} contains NaN or inf")
            self.gradient_norms[i] = norm
        return gv

    def _flat(self, index, grads):
        """(x, backup buffer, grad) as flat views where x is contiguous, else in x's layout."""
        if index not in self._flats:
            x, g = self.tensors[index], grads[index].detach()
            if index not in self.backups:
                self.backups[index] = self.torch.empty_like(
                    x, memory_format=self.torch.contiguous_format)
            x0 = self.backups[index]
            if x.is_contiguous():
                x, x0, g = x.view(-1), x0.view(-1), g.reshape(-1)
            self._flats[index] = (x, x0, g)
        return self._flats[index]

    def _accumulator(self, device):
        return self.torch.float32 if device.type == "mps" else self.torch.float64  # no f64 there

    def _map(self, fn, jobs, device):
        """``[fn(job) for job in jobs]``, on this check's pool of threads for CPU chunks.

        Torch releases the GIL inside its kernels and draws random numbers for one tensor on
        one core, so threads are what spread the work over the cores. Torch itself runs on
        one thread meanwhile (``one_thread``): that fixes the order of every sum, and a torch
        operation that goes parallel from a pool thread starts an OpenMP team for that
        thread, whose idle threads slowed every later torch operation of the process by up
        to 1.7x in measurements. All jobs finish before this returns or raises (the first
        error), so that none still writes to x when the caller restores it."""
        workers = self._workers
        if len(jobs) < 2 or device.type != "cpu" or workers < 2:
            return [fn(job) for job in jobs]
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="check_grad")
        futures = [self._pool.submit(fn, job) for job in jobs]
        concurrent.futures.wait(futures)
        return [future.result() for future in futures]

    def _displace_chunks(self, chunks, seed, index, h):
        """Large tensors, a chunk at a time: draw, dot, perturb (and save, for a tensor not
        yet backed up).

        On a CPU the chunks go to the pool, with torch set to one thread meanwhile (and back
        after): a torch operation that goes parallel from a pool thread starts an OpenMP team
        for that thread, whose idle threads slowed every later torch operation of the process
        by up to 1.7x in measurements."""
        torch = self.torch
        device = self.tensors[chunks[0][0]].device
        jobs = [(seed_for(seed, index, i, c), i, part, h) for i, c, part in chunks]
        try:  # (displace() runs this under one_thread(): see _map)
            values = torch.stack(self._map(self._displace_chunk, jobs, device)).tolist()
        finally:  # every chunk ran, and saved its part of x before anything could fail
            self._saved.update(i for i, *_ in chunks)
        dot, squares = 0.0, {}
        for (i, *_), (chunk_dot, square) in zip(chunks, values, strict=True):
            dot += chunk_dot * self._scales[i]
            squares[i] = squares.get(i, 0.0) + square
        return dot, list(squares.items())

    def _displace_chunk(self, job):
        """One chunk, while it is in cache: draw, grad . v and grad . grad, perturb (saving
        first where the session has not backed the tensor up)."""
        torch = self.torch
        seed, i, part, h = job
        with torch.no_grad():  # grad mode is per thread: a pool thread starts with it on
            x, x0, g = (t[part] for t in self._flats[i])
            if i not in self._saved:
                x0.copy_(x)
            acc = self._accumulator(x.device)
            v = draw(seed, x.numel(), x, out=scratch("draw", x))
            if v.dtype != x.dtype:
                v = scratch("cast", x, x.dtype).copy_(v)
            ga = g if g.dtype == acc else scratch("g", x, acc).copy_(g)
            va = v if v.dtype == acc else scratch("v", x, acc).copy_(v)
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
        v = draw(seed, sum(x.numel() for x in xs), xs[0]).to(xs[0].dtype)
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
