"""How often helpers.check_grad (directional mode) gives the right verdict, on random MLP losses.

For each seed, an MLP loss of random width (N from about 500 to 500,000 parameters, so that
both the small-tensor path and the chunked path of the PyTorch backend are used) is checked
with autograd's gradient, which must pass, and with six planted wrong gradients, which must
fail: the four of gradcheck_benchmark.py, one tensor 1% off, and one entry 10% off.

    python benchmarks/gradcheck_reliability.py            # 30 seeds
    python benchmarks/gradcheck_reliability.py --seeds 100
"""

from __future__ import annotations

import argparse
import collections
import time

import torch
from gradcheck_benchmark import BUGS, make_problem, plant

import helpers

EXTRA_BUGS = ["one tensor 1% off", "one entry 10% off"]


def plant_extra(grads, bug):
    g = [t.clone() for t in grads]
    if bug == "one tensor 1% off":
        g[1] = 1.01 * g[1]
    elif bug == "one entry 10% off":
        g[0].view(-1)[g[0].abs().argmax()] *= 1.1
    return g


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    outcomes = collections.Counter()
    wrong = []
    start = time.perf_counter()
    for seed in range(args.seeds):
        generator = torch.Generator().manual_seed(seed)
        width = int(torch.randint(20, 700, (1,), generator=generator))
        params, loss = make_problem(width**2, torch.float64, "cpu", 64, seed=seed)
        n = sum(p.numel() for p in params)
        cases = [("right gradient", None, "passed")]
        grads = torch.autograd.grad(loss([p.requires_grad_() for p in params]), params)
        for p in params:
            p.requires_grad_(False)
        cases += [(bug, plant(grads, bug), "failed") for bug in BUGS]
        cases += [(bug, plant_extra(grads, bug), "failed") for bug in EXTRA_BUGS]
        for name, given, expected in cases:
            report = helpers.check_grad(loss, params, given, mode="directional", seed=seed)
            outcomes[(name, report.verdict == expected)] += 1
            if report.verdict != expected:
                wrong.append(f"seed {seed}, N = {n:,}, {name}: {report.verdict} "
                             f"({report.summary})")
    print(f"{args.seeds} random MLP losses, N from ~500 to ~500,000, float64, "
          f"{time.perf_counter() - start:.0f} s")
    for name in ["right gradient", *BUGS, *EXTRA_BUGS]:
        good, bad = outcomes[(name, True)], outcomes[(name, False)]
        expected = "passed" if name == "right gradient" else "failed"
        print(f"  {name:<26} {expected} {good} of {good + bad}")
    for line in wrong:
        print("  wrong verdict:", line)


if __name__ == "__main__":
    main()
