"""The full check: a central difference for every coordinate of x (and every output of f).

Exact about *where* a gradient or Jacobian is wrong, at ``2 N`` evaluations of f (plus a few
for the entries that need a second look). Steps are ``balanced_step`` in units of each
tensor's spread; tolerances are relative to the entries of the gradient (per output of f), so
scaling f or x, or shifting x by a constant, changes no verdict.

An entry that disagrees, or whose one-sided slopes differ by more than a smooth f explains,
is measured again with the step halved, until two central differences agree. Where f is
smooth they soon do (their error is O(h^2)); at a kink at x the one-sided slopes differ by the
jump whatever the step, and kinks within reach of the step keep the estimates moving.
Either way no finite difference can judge the gradient there: "inconclusive", never "failed".
Where f is nearly flat along a coordinate at this step (round-off would swamp a 1e-3 error),
the step is lengthened instead, up to 5% of the tensor's spread.
"""

from __future__ import annotations

import numpy as np

from helpers.calculus import balanced_step, central_pairs
from helpers.gradcheck.backend import Backend
from helpers.gradcheck.report import Entry, GradCheckReport

HALVINGS = 8  # second looks per suspect entry, at most


def check_full(backend: Backend, f0: np.ndarray, given: list[np.ndarray], rtol: float,
               evaluations: int, gradient_passes: int, jacobian: bool) -> GradCheckReport:
    """``f0`` is f(x) (any shape); ``given[t]`` the gradient of tensor t, shaped like the
    tensor, or for a vector f its Jacobian, shaped f0.shape + tensor shape."""
    eps = backend.epsilon
    m = f0.size
    f0 = f0.reshape(-1)
    # one row per coordinate of x, one column per output of f
    given = [np.moveaxis(g.reshape((m, -1)), 0, 1) if jacobian else g.reshape((-1, 1))
             for g in given]
    numeric, noise, steps = [], [], []
    for t in range(len(backend.tensors)):
        shape = backend.shape(t)
        h = balanced_step(eps, backend.scale(t))
        plus, minus, span = _central(backend, t, shape, h)
        evaluations += 2 * int(np.prod(shape))
        numeric.append((plus - minus) / span[:, None])
        noise.append(10 * eps * np.maximum(np.abs(f0), np.maximum(np.abs(plus), np.abs(minus)))
                     / h)
        steps.append((h, plus, minus))
    scale = _largest(given, numeric)
    tolerances = _tolerances(given, numeric, noise, rtol, scale)
    kinks = set()
    for t, (h, plus, minus) in enumerate(steps):
        gap = np.abs((plus - f0) - (f0 - minus)) / h
        size = np.maximum(np.maximum(np.abs(given[t]), np.abs(numeric[t])), 1e-3 * scale)
        curved = (gap > 10 * noise[t]) & (gap > 1e-3 * size)
        wrong = np.abs(given[t] - numeric[t]) > tolerances[t]
        for row in np.flatnonzero((curved | wrong).any(axis=1)):
            entry = np.unravel_index(row, backend.shape(t))
            settled, used = _second_look(backend, t, entry, h, f0, gap[row], numeric[t][row],
                                         tolerances[t][row], noise[t][row])
            evaluations += used
            if settled is None:
                kinks.add((t, row))
            else:
                numeric[t][row], noise[t][row] = settled
    # Entries that round-off swamps (f nearly flat along them at this step): longer steps
    for t, (h, _, _) in enumerate(steps):
        size = np.maximum(np.maximum(np.abs(given[t]), np.abs(numeric[t])), 1e-3 * scale)
        for row in np.flatnonzero((noise[t] > 1e-3 * size).any(axis=1)):
            if (t, row) in kinks:
                continue
            entry = tuple(int(i) for i in np.unravel_index(row, backend.shape(t)))
            found, used = _wider_look(backend, t, entry, h, f0, noise[t][row], size[row],
                                      tolerances[t][row])
            evaluations += used
            if found is not None:
                numeric[t][row], noise[t][row] = found
    return _report(backend, given, numeric, noise, kinks, rtol, scale, evaluations,
                   gradient_passes, jacobian, f0.size)


def _wider_look(backend, t, entry, h, f0, noise, size, tolerance):
    """Lengthen the step (x8 at a time, up to 5% of the tensor's spread) until round-off no
    longer swamps the difference; keep it where a difference with half that step agrees
    (truncation still small): ((estimate, its noise), evaluations), or (None, evaluations)."""
    used, longest = 0, 0.05 * backend.scale(t)  # a step stays small beside x's own spread
    while 8 * h <= longest:
        h, noise = 8 * h, noise / 8
        estimates = []
        for step in (h, h / 2):
            plus, minus, span = _central(backend, t, (), step, entry=entry)
            estimates.append((plus[0] - minus[0]) / span[0])
            used += 2
        if np.all(2 * noise <= 1e-3 * size):
            if np.all(np.abs(estimates[1] - estimates[0]) <= tolerance + 2 * noise):
                return (estimates[1], 2 * noise), used
            return None, used  # long enough for round-off, too long for f's curvature
    return None, used


def _central(backend, t, shape, h, entry=None):
    """f at x +- h e_i for every coordinate i of tensor t (or only ``entry``), as (plus,
    minus, steps actually taken between them): rows are coordinates, columns outputs."""
    taken = {}

    def evaluate(index, step):
        where = entry if entry is not None else index
        taken[index, step > 0] = backend.shift_entry(t, where, step)
        try:
            return backend.evaluate().reshape(-1)
        finally:
            backend.restore_entry(t, where)

    grid = shape if entry is None else ()
    plus, minus = central_pairs(evaluate, grid, h)
    span = np.array([taken[i, True] - taken[i, False] for i in np.ndindex(grid)])
    outputs = plus.shape[len(grid):]
    return (plus.reshape((-1, *outputs) if outputs else (-1, 1)),
            minus.reshape((-1, *outputs) if outputs else (-1, 1)), span)


def _second_look(backend, t, entry, h, f0, gap, estimate, tolerance, noise):
    """Halve the step until two central differences agree: ((the estimate, its noise),
    evaluations), or (None, evaluations) where f has a kink at x or within reach of the
    steps.

    Where f is smooth, successive estimates move 4 times less per halving (truncation,
    O(h^2)). Round-off that the noise model (eps |f|) misses, as where f is computed by
    cancelling large terms, makes them move more instead: then the first estimate (the
    longest step, the least round-off) is kept, with three times its observed movement as
    its uncertainty. At a kink at x the gap between the one-sided slopes stays put; round-off
    makes it grow."""
    first, first_noise, used, moved_before = estimate, noise, 0, None
    for _ in range(HALVINGS):
        h /= 2
        plus, minus, span = _central(backend, t, (), h, entry=tuple(int(i) for i in entry))
        plus, minus = plus[0], minus[0]
        used += 2
        smaller = (plus - minus) / span[0]
        noise = noise * 2
        new_gap = np.abs((plus - f0) - (f0 - minus)) / h
        moved = np.abs(smaller - estimate)
        if moved_before is not None and np.all(moved > moved_before):
            return (first, first_noise + 3 * moved_before), used  # round-off: see above
        if np.any((gap > 10 * noise) & (new_gap > 0.75 * gap) & (new_gap < 1.5 * gap)):
            return None, used  # the one-sided slopes differ by a jump: a kink at x
        if np.all(moved <= tolerance + noise):
            return (smaller, noise + moved), used
        estimate, gap, moved_before = smaller, new_gap, moved
        if np.all(noise > tolerance):
            break
    return None, used


def _largest(given, numeric) -> np.ndarray:
    """The largest |entry| per output of f: the scale every threshold of that output uses."""
    rows = [np.abs(a).max(axis=0) for a in [*given, *numeric] if a.size]
    return np.max(rows, axis=0) if rows else np.zeros(1)


def _tolerances(given, numeric, noise, rtol, scale) -> list[np.ndarray]:
    """Per-entry tolerance of |gradient - central difference|.

    Relative to each entry (``rtol``), plus a small share of the largest entry of its output
    (so entries near zero are not judged to more digits than the differences have), plus
    round-off. No absolute floor: multiplying f by any constant multiplies every term by it.
    """
    return [1e-8 * scale + rtol * np.maximum(np.abs(g), np.abs(n)) + rn
            for g, n, rn in zip(given, numeric, noise, strict=True)]


def _report(backend, given, numeric, noise, kinks, rtol, scale, evaluations, passes,
            jacobian, outputs) -> GradCheckReport:
    tolerances = _tolerances(given, numeric, noise, rtol, scale)
    rows, unresolved, max_abs, max_rel = [], 0, 0.0, 0.0
    for t, (g, n, rn, tol) in enumerate(zip(given, numeric, noise, tolerances, strict=True)):
        err = np.abs(g - n)
        size = np.maximum(np.abs(g), np.abs(n))
        unresolved += int(np.sum(rn > 1e-3 * np.maximum(size, 1e-3 * scale)))
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: both exactly zero
            ratio = np.where(err == 0, 0.0, err / tol)
            relative = np.where(err == 0, 0.0, err / size)
        if err.size:
            max_abs, max_rel = max(max_abs, float(err.max())), max(max_rel, float(relative.max()))
        for row, col in np.ndindex(err.shape):
            rows.append((float(ratio[row, col]), t, row, col, float(g[row, col]),
                         float(n[row, col])))
    rows.sort(key=lambda r: -r[0])

    def name(t, row, col):
        where = list(np.unravel_index(row, backend.shape(t)))
        if jacobian:
            where = [*np.unravel_index(col, backend.output_shape), *where]
        text = f"[{', '.join(str(int(i)) for i in where)}]"
        return text if len(given) == 1 else f"tensor {t} {text}"

    kinked = [r for r in rows if (r[1], r[2]) in kinks]
    bad = [r for r in rows if r[0] > 1 and (r[1], r[2]) not in kinks]
    worst = [Entry(name(t, row, col), g, n) for _, t, row, col, g, n in (bad or kinked or
                                                                          rows)[:5]]
    what = "Jacobian" if jacobian else "gradient"
    if bad:
        _, t, row, col, g, n = bad[0]
        factor = f" (ratio {g / n:.4g})" if n != 0 else ""
        verdict = "failed"
        summary = (f"{len(bad)} of {len(rows)} {what} entries disagree with central "
                   f"differences; worst at {name(t, row, col)}: {g:.10g} vs {n:.10g}{factor}")
    elif kinked:
        verdict = "inconclusive"
        coordinates = len({(t, row) for _, t, row, *_ in kinked})
        summary = (f"f is not differentiable at x, or has kinks within the finite-difference "
                   f"step, in {coordinates} coordinate(s), e.g. "
                   f"{name(kinked[0][1], kinked[0][2], kinked[0][3])}: central differences "
                   "cannot judge the gradient there")
    elif unresolved:
        verdict = "inconclusive"
        summary = (f"central differences in {backend.dtype} cannot resolve {unresolved} of "
                   f"{len(rows)} entries to 1e-3; check in float64: {backend.float64_hint}")
    else:
        verdict = "passed"
        summary = (f"all {len(rows)} {what} entries agree with central differences "
                   f"(largest relative error {max_rel:.1e})")
    return GradCheckReport(verdict=verdict, mode="full", framework=backend.framework,
                           size=backend.size, dtype=backend.dtype, summary=summary,
                           evaluations=evaluations, gradient_passes=passes, worst=worst,
                           max_abs_error=max_abs, max_rel_error=max_rel,
                           steps=[balanced_step(backend.epsilon, backend.scale(t))
                                  for t in range(len(given))])
