"""Benchmark helpers.check_grad against torch.autograd.gradcheck on an MLP loss.

For each size N it prints, as ratios to one forward+backward pass measured in the same run:
the cost of check_grad (gradient by autograd, and gradient given), the cost of
torch.autograd.gradcheck in fast mode (and default mode where N is small), the extra memory
check_grad used (in parameter-sized buffers), and which planted wrong gradients each caught.

    python benchmarks/gradcheck_benchmark.py                      # N = 1e3 ... 1e7, float64
    python benchmarks/gradcheck_benchmark.py --sizes 1e8          # 1e8 on a 24 GiB machine
    python benchmarks/gradcheck_benchmark.py --sizes 1e9 --dtype float32 --device cuda
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import threading
import time

import psutil
import torch

import helpers

BUGS = ["entry doubled", "sign flip in one tensor", "missing factor 1/2", "transposed weight"]


def make_problem(n_target: float, dtype, device, batch: int, seed: int = 0,
                 activation=torch.tanh):
    """A one-hidden-layer MLP with about n_target parameters: N = D*D + 2D + 1."""
    d = max(2, int(math.sqrt(n_target)))
    g = torch.Generator(device=device).manual_seed(seed)
    w1 = torch.randn(d, d, generator=g, device=device, dtype=dtype) / math.sqrt(d)
    b1 = torch.randn(d, generator=g, device=device, dtype=dtype) * 0.1
    w2 = torch.randn(1, d, generator=g, device=device, dtype=dtype) / math.sqrt(d)
    b2 = torch.zeros(1, device=device, dtype=dtype)
    X = torch.randn(batch, d, generator=g, device=device, dtype=dtype)
    y = torch.randn(batch, 1, generator=g, device=device, dtype=dtype)
    params = [w1, b1, w2, b2]

    def loss(ps):
        hidden = activation(X @ ps[0].T + ps[1])
        return ((hidden @ ps[2].T + ps[3] - y) ** 2).mean()

    loss.data = (X, y)  # for variants of this loss (gradcheck_reliability.py)

    return params, loss


def plant(grads, bug):
    g = [t.clone() for t in grads]
    if bug == "entry doubled":
        g[0].view(-1)[g[0].abs().argmax()] *= 2
    elif bug == "sign flip in one tensor":
        g[1] = -g[1]
    elif bug == "missing factor 1/2":
        g[0] = 2 * g[0]
    elif bug == "transposed weight":
        g[0] = g[0].T.contiguous()
    return g


def synchronize():
    """Wait for queued GPU work, so that a timing covers it (a no-op without CUDA)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def typical_time(fn, repeat=5, budget=1.0):
    """The median of at least ``repeat`` runs, and of as many as fit in ``budget`` seconds.

    The median, not the minimum: a check is several steps, each of which is sometimes slow
    (a page fault, a preempted thread), and the minimum of a sum is not the sum of the
    minima, so comparing minima would charge the check for the noise in its steps."""
    times, start = [], time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < budget and len(times) < 2000):
        synchronize()
        begin = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def peak_memory_during(fn, device):
    """Run fn; return (result, peak increase in bytes of the memory that holds the tensors):
    the CUDA allocator's own peak on a GPU, else this process's resident memory, sampled."""
    if torch.device(device).type == "cuda":
        synchronize()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = fn()
        synchronize()
        return result, torch.cuda.max_memory_allocated(device) - base
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        result = fn()
    finally:
        done.set()
        thread.join()
    return result, peak[0] - base


def bare_check(params, loss, rungs=3):
    """What any directional check that perturbs in place and restores exactly must do, and
    nothing more: gradient, backup, one Gaussian direction, grad . v, ``rungs`` perturbed
    evaluations (check_grad's default: three, whose spread measures truncation), restore.
    check_grad's own overhead shows against it."""
    ps = [p.detach().requires_grad_(True) for p in params]
    grads = torch.autograd.grad(loss(ps), ps)
    with torch.no_grad():
        backups = [p.clone() for p in params]
        generator = torch.Generator(device=params[0].device).manual_seed(0)
        directions = [torch.randn(p.shape, generator=generator, dtype=torch.float32,
                                  device=p.device).to(p.dtype) for p in params]
        gv = sum(float(torch.dot(g.reshape(-1), v.reshape(-1)))
                 for g, v in zip(grads, directions, strict=True))
        for p, v in zip(params, directions, strict=True):
            p.add_(v, alpha=1e-5)
        values = [float(loss(params))]
        for _ in range(rungs - 1):
            for p, b in zip(params, backups, strict=True):
                p.lerp_(b, 0.5)
            values.append(float(loss(params)))
        for p, b in zip(params, backups, strict=True):
            p.copy_(b)
    return gv, values


def torch_gradcheck(params, loss, grads_fn, fast):
    """torch.autograd.gradcheck on a Function whose backward returns grads_fn(...)."""

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *ps):
            ctx.save_for_backward(*ps)
            return loss(list(ps))

        @staticmethod
        def backward(ctx, upstream):
            ps = [p.detach().requires_grad_(True) for p in ctx.saved_tensors]
            with torch.enable_grad():
                g = torch.autograd.grad(loss(ps), ps)
            return tuple(upstream * t for t in grads_fn(list(g)))

    inputs = [p.detach().clone().requires_grad_(True) for p in params]
    return torch.autograd.gradcheck(Loss.apply, inputs, fast_mode=fast, raise_exception=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e4, 1e5, 1e6, 1e7])
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=256, help="rows of data in the loss")
    parser.add_argument("--fast-gradcheck-max", type=float, default=2e4,
                        help="largest N for torch's fast gradcheck (it is slow to fail)")
    parser.add_argument("--full-gradcheck-max", type=float, default=2e3,
                        help="largest N for torch's default (full Jacobian) gradcheck")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # rows appear as they are measured
    dtype = getattr(torch, args.dtype)

    header = (f"{'N':>11} | {'fwd+bwd':>8} | {'check':>6} {'given':>6} {'fails':>6} | {'bare':>6} "
              f"{'2 fwd':>6} | {'mem':>5} | caught (ours) | {'fast gc':>8} caught (fast gc) | "
              f"{'full gc':>8}")
    print(f"device {args.device}, {args.dtype}, batch {args.batch}, "
          f"{torch.get_num_threads()} threads")
    print("costs are ratios to one forward+backward pass: check_grad with autograd's gradient, "
          "with the gradient given, and with a wrong one given (it fails: scrutiny, locating);")
    print("bare: a script that does only what an exactly restored directional check must "
          "(bare_check); 2 fwd: two evaluations alone;")
    print("mem: check_grad's peak extra memory in parameter-sized buffers (with autograd's "
          "gradient, which is one of them);")
    print("caught: one mark per planted bug (" + "; ".join(BUGS) + "), X = caught, . = missed")
    print(header)
    print("-" * len(header))
    for n_target in args.sizes:
        print(measure_size(n_target, args, dtype))


def measure_size(n_target: float, args, dtype) -> str:
    """One row of the table: every measurement for one size N."""
    params, loss = make_problem(n_target, dtype, args.device, args.batch)
    n = sum(p.numel() for p in params)
    param_bytes = n * params[0].element_size()

    def forward_backward():
        ps = [p.detach().requires_grad_(True) for p in params]
        value = loss(ps)
        return value.detach(), torch.autograd.grad(value, ps)

    def two_forwards():
        with torch.no_grad():
            return float(loss(params)), float(loss(params))

    t_fb = typical_time(forward_backward)
    t_two = typical_time(two_forwards)
    t_bare = typical_time(lambda: bare_check(params, loss))
    value, grads = forward_backward()
    value = float(value)
    report, extra = peak_memory_during(
        lambda: helpers.check_grad(loss, params, mode="directional"), args.device)
    t_check = typical_time(lambda: helpers.check_grad(loss, params, mode="directional"))
    t_given = typical_time(lambda: helpers.check_grad(loss, params, grads, mode="directional",
                                                   value=value))
    wrong = plant(grads, "sign flip in one tensor")
    t_fail = typical_time(lambda: helpers.check_grad(loss, params, wrong, mode="directional",
                                                  value=value))
    ours = "".join(
        "X" if helpers.check_grad(loss, params, plant(grads, bug), mode="directional",
                                  value=value).verdict == "failed" else "."
        for bug in BUGS)
    fast_cost, fast_caught = "-", ""
    if n <= args.fast_gradcheck_max:
        start = time.perf_counter()
        right = torch_gradcheck(params, loss, lambda g: g, fast=True)
        fast_cost = f"{(time.perf_counter() - start) / t_fb:7.1f}x"
        fast_caught = "".join(
            "." if torch_gradcheck(params, loss, lambda g, b=bug: plant(g, b), fast=True)
            else "X" for bug in BUGS) + ("" if right else " (rejected right gradient)")
    full_cost = "-"
    if n <= args.full_gradcheck_max:
        start = time.perf_counter()
        torch_gradcheck(params, loss, lambda g: g, fast=False)
        full_cost = f"{(time.perf_counter() - start) / t_fb:7.0f}x"
    # resident memory moves by megabytes on its own: below 8 MB of parameters it says nothing
    mem = f"{extra / param_bytes:5.1f}" if param_bytes >= 2**23 or args.device != "cpu" else \
        f"{'-':>5}"
    return (f"{n:>11,} | {t_fb * 1e3:6.1f}ms | {t_check / t_fb:5.2f}x {t_given / t_fb:5.2f}x "
            f"{t_fail / t_fb:5.2f}x "
            f"| {t_bare / t_fb:5.2f}x {t_two / t_fb:5.2f}x | {mem} | {ours:>4} "
            f"{report.verdict[:4]:>6}  | {fast_cost:>8} {fast_caught:<16} | {full_cost:>8}")

if __name__ == "__main__":
    main()
