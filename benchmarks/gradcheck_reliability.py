"""How often helpers.check_grad gives the right verdict, over random losses and families.

Each seed draws an MLP loss of random width and checks it in several *families*: as drawn,
with the loss multiplied by 1e-8 and 1e6, with the parameters scaled by 1e-4 and 1e4
(f(x) = g(x / s) at x = s x0), with the parameters shifted far from zero (f(x) = g(x - c) at
x = x0 + c, c ~ 1e4), a ReLU network (kinks) and the piecewise-linear
0.5 ||x - a||^2 + 0.1 ||x||_1. In each family the right gradient must not fail (on a kinked
loss "inconclusive" is an acceptable answer; on a smooth one only "passed" is), and each planted
wrong gradient must fail: the four of gradcheck_benchmark.py, one tensor 1% off, one entry 10%
off, and the smallest-error family the issue asks for: one tensor holding at least 1% of the
gradient's norm off by 1e-6 (relative).

    python benchmarks/gradcheck_reliability.py                 # 30 seeds, directional mode
    python benchmarks/gradcheck_reliability.py --mode full     # N up to ~1,700, full mode
    python benchmarks/gradcheck_reliability.py --seeds 100 --families shifted relu
"""

from __future__ import annotations

import argparse
import collections
import math
import time

import torch
from gradcheck_benchmark import BUGS, make_problem, plant

import helpers

EXTRA_BUGS = ["one tensor 1% off", "one entry 10% off", "1e-6 in a tensor (>=1% of norm)"]
FAMILIES = ["plain", "loss x 1e-8", "loss x 1e6", "x scaled 1e-4", "x scaled 1e4",
            "x shifted 1e4", "x + 1e6", "x + 1e8", "layer norm", "zero residual",
            "features 1e-4..1e4", "relu", "l1 + quadratic"]
KINKED = {"relu", "l1 + quadratic"}


def plant_extra(grads, bug):
    g = [t.clone() for t in grads]
    if bug == "one tensor 1% off":
        g[1] = 1.01 * g[1]
    elif bug == "one entry 10% off":
        g[0].view(-1)[g[0].abs().argmax()] *= 1.1
    elif bug == "noise 1e-6 where zero":
        g = [t + 1e-6 * torch.randn(t.shape, generator=torch.Generator().manual_seed(i),
                                    dtype=t.dtype) for i, t in enumerate(g)]
    elif bug == "1e-6 in a tensor (>=1% of norm)":
        norms = [float(t.norm()) for t in g]
        total = math.sqrt(sum(n * n for n in norms))
        small = min((i for i, n in enumerate(norms) if n >= 0.01 * total),
                    key=lambda i: norms[i])
        g[small] = g[small] * (1 + 1e-6)
    return g


def family_problem(family, n_target, seed):
    """(params, loss) of one family, built from the benchmark's MLP or its own losses."""
    if family == "relu":
        params, loss = make_problem(n_target, torch.float64, "cpu", 64, seed=seed,
                                    activation=torch.relu)
        return params, loss
    if family == "l1 + quadratic":
        g = torch.Generator().manual_seed(seed)
        n = int(n_target)
        a = torch.randn(n, generator=g, dtype=torch.float64)
        x = torch.randn(n, generator=g, dtype=torch.float64)
        return [x], lambda ps: 0.5 * ((ps[0] - a) ** 2).sum() + 0.1 * ps[0].abs().sum()
    if family == "layer norm":  # the MLP's hidden layer normalised: gain of ones, bias zeros
        params, loss = make_problem(n_target, torch.float64, "cpu", 64, seed=seed)
        d = params[1].numel()
        params += [torch.ones(d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64)]
        return params, lambda ps: _layer_norm_loss(ps, *loss.data)
    if family == "features 1e-4..1e4":  # a linear fit to unnormalised features
        g = torch.Generator().manual_seed(seed)
        d = max(2, int(math.sqrt(n_target)))
        X = torch.randn(64, d, generator=g, dtype=torch.float64) * \
            10.0 ** torch.linspace(-4, 4, d, dtype=torch.float64)
        y = torch.randn(64, generator=g, dtype=torch.float64)
        w, b = (torch.randn(d, generator=g, dtype=torch.float64) * 10.0 **
                torch.linspace(4, -4, d, dtype=torch.float64)), torch.zeros(1, dtype=torch.float64)
        return [w, b], lambda ps: ((X @ ps[0] + ps[1] - y) ** 2).mean()
    params, loss = make_problem(n_target, torch.float64, "cpu", 64, seed=seed)
    if family == "zero residual":  # targets that the model at x fits exactly
        X = loss.data[0]

        def outputs(ps):
            return torch.tanh(X @ ps[0].T + ps[1]) @ ps[2].T + ps[3]

        exact = outputs(params)
        return params, lambda ps: ((outputs(ps) - exact) ** 2).mean()
    if family.startswith("x + "):
        c = float(family.split("+")[1])
        return [p + c for p in params], lambda ps: loss([p - c for p in ps])
    if family.startswith("loss x"):
        factor = float(family.split("x")[1])
        return params, lambda ps: factor * loss(ps)
    if family.startswith("x scaled"):
        s = float(family.split()[-1])
        return [p * s for p in params], lambda ps: loss([p / s for p in ps])
    if family.startswith("x shifted"):
        g = torch.Generator().manual_seed(seed + 1)
        shifts = [1e4 + torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
        return ([p + c for p, c in zip(params, shifts, strict=True)],
                lambda ps: loss([p - c for p, c in zip(ps, shifts, strict=True)]))
    return params, loss


def _layer_norm_loss(ps, X, y):
    hidden = torch.tanh(X @ ps[0].T + ps[1])
    normed = torch.nn.functional.layer_norm(hidden, hidden.shape[-1:], ps[4], ps[5])
    return ((normed @ ps[2].T + ps[3] - y) ** 2).mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--mode", choices=["directional", "full"], default="directional")
    parser.add_argument("--families", nargs="+", default=FAMILIES, choices=FAMILIES)
    parser.add_argument("--directions", type=int, default=1, help="check_grad's directions")
    args = parser.parse_args()
    outcomes = collections.Counter()
    wrong = []
    start = time.perf_counter()
    sizes = (20, 700) if args.mode == "directional" else (5, 40)
    for seed in range(args.seeds):
        generator = torch.Generator().manual_seed(seed)
        width = int(torch.randint(*sizes, (1,), generator=generator))
        for family in args.families:
            params, loss = family_problem(family, width**2, seed)
            n = sum(p.numel() for p in params)
            ps = [p.detach().requires_grad_() for p in params]
            grads = torch.autograd.grad(loss(ps), ps)
            params = [p.detach() for p in ps]
            ok_right = {"passed", "inconclusive"} if family in KINKED else {"passed"}
            cases = [("right gradient", None, ok_right)]
            bugs = [b for b in BUGS + EXTRA_BUGS if len(params) > 1 or "tensor" not in b]
            if params[0].dim() < 2:  # a vector transposed is itself
                bugs.remove("transposed weight")
            if family == "zero residual":  # a multiple of zero is zero: only noise is wrong
                bugs = ["noise 1e-6 where zero"]
            cases += [(bug, plant(grads, bug) if bug in BUGS else plant_extra(grads, bug),
                       {"failed"}) for bug in bugs]
            for name, given, expected in cases:
                report = helpers.check_grad(loss, params, given, mode=args.mode, seed=seed,
                                            directions=args.directions)
                outcomes[(family, name, report.verdict in expected)] += 1
                if report.verdict not in expected:
                    wrong.append(f"{family}, seed {seed}, N = {n:,}, {name}: {report.verdict} "
                                 f"({report.summary[:140]})")
    print(f"{args.seeds} seeds, {args.mode} mode, {args.directions} direction(s), float64, N "
          f"from ~{sizes[0]**2:,} to ~{sizes[1]**2:,}, {time.perf_counter() - start:.0f} s")
    names = ["right gradient", *BUGS, *EXTRA_BUGS, "noise 1e-6 where zero"]
    print(f"{'family':<16}" + "".join(f" | {name[:14]:>14}" for name in names))
    for family in args.families:
        cells = []
        for name in names:
            good, bad = outcomes[(family, name, True)], outcomes[(family, name, False)]
            cells.append(f"{good:>6} of {good + bad:<4}" if good + bad else f"{'-':>14}")
        print(f"{family:<16}" + "".join(f" | {c:>14}" for c in cells))
    print("a cell counts right verdicts: 'passed' (or 'inconclusive' on a kinked loss) for the "
          "right gradient, 'failed' for a planted bug")
    for line in wrong:
        print("  wrong verdict:", line)


if __name__ == "__main__":
    main()
