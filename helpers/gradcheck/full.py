"""The full check: a central difference for every coordinate of x (and every output of f).

Exact about *where* a gradient or Jacobian is wrong, at ``2 N`` evaluations of f (plus a few
for the entries that need a second look). Steps are ``balanced_step`` in units of each
tensor's spread (of the entry, for a small entry those could not settle); tolerances are
relative to each entry of the gradient on its own (per output of f), so scaling f or x, or
shifting x by a constant, changes no verdict, and a wrong entry far smaller than the others
still fails.

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

# second looks per suspect entry, at most: a tensor-wide step can be far too long for one
# small entry (values 1e3 and 1e-6 in one tensor), and each halving cuts truncation by 4
HALVINGS = 20


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
    numeric, noise, steps, change = [], [], [], []
    for t in range(len(backend.tensors)):
        shape = backend.shape(t)
        # (never shorter than 64 units in the last place of the entry: parameters at 1e8
        # with a spread of 1e-4 cannot store a step of balanced_step x 1e-4 at all)
        h = np.maximum(balanced_step(eps, backend.scale(t)),
                       64 * eps * np.abs(backend.original_numpy(t)))
        plus, minus, span = _central(backend, t, shape, h)
        evaluations += 2 * int(np.prod(shape))
        h = h.reshape(-1, 1)  # a row per coordinate
        numeric.append((plus - minus) / span[:, None])
        noise.append(_roundoff(eps, f0, plus, minus, h))
        change.append(np.abs((plus - f0) + (minus - f0)) / (2 * h))  # curvature x h
        steps.append((h, plus, minus))
    tolerances = _tolerances(given, numeric, noise, change, rtol)
    kinks = set()
    for t, (h, plus, minus) in enumerate(steps):
        gap = np.abs((plus - f0) - (f0 - minus)) / h
        size = _size(given[t], numeric[t], change[t])
        curved = (gap > 10 * noise[t]) & (gap > 1e-3 * size)
        wrong = np.abs(given[t] - numeric[t]) > tolerances[t]
        for row in np.flatnonzero((curved | wrong).any(axis=1)):
            entry = np.unravel_index(row, backend.shape(t))
            settled, used = _second_look(backend, t, entry, h[row, 0], f0, gap[row],
                                         numeric[t][row], given[t][row], rtol, noise[t][row])
            evaluations += used
            if settled is None:
                kinks.add((t, row))
            else:
                numeric[t][row], noise[t][row], change[t][row] = settled
    # Entries that round-off swamps (f nearly flat along them at this step): longer steps
    coarsest = max(1e-3, rtol)
    for t, (h, _, _) in enumerate(steps):
        size = _size(given[t], numeric[t], change[t])
        for row in np.flatnonzero((noise[t] > coarsest * size).any(axis=1)):
            if (t, row) in kinks:
                continue
            entry = tuple(int(i) for i in np.unravel_index(row, backend.shape(t)))
            found, used = _wider_look(backend, t, entry, h[row, 0], f0, noise[t][row],
                                      given[t][row], rtol, coarsest)
            evaluations += used
            if found is not None:
                numeric[t][row], noise[t][row] = found
    # Entries far smaller than their tensor's spread that did not agree, or met a "kink":
    # the tensor's step may be far too long for them; once more with a step of their size
    tolerances = _tolerances(given, numeric, noise, change, rtol)
    for t in range(len(steps)):
        size = np.abs(backend.original_numpy(t)).reshape(-1)
        small = (size > 0) & (size < 0.1 * backend.scale(t))  # (a zero has no size of its own)
        wrong = (np.abs(given[t] - numeric[t]) > tolerances[t]).any(axis=1)
        kinked = np.array([(t, row) in kinks for row in range(len(small))], dtype=bool)
        for row in np.flatnonzero(small & (wrong | kinked)):
            entry = tuple(int(i) for i in np.unravel_index(row, backend.shape(t)))
            settled, used = _entry_sized_look(backend, t, entry, f0, given[t][row], rtol)
            evaluations += used
            if settled is not None:
                numeric[t][row], noise[t][row], change[t][row] = settled
                kinks.discard((t, row))
    return _report(backend, given, numeric, noise, change, kinks, rtol, f0, evaluations,
                   gradient_passes, jacobian)


def _entry_sized_look(backend, t, entry, f0, given, rtol):
    """A central difference with a step in units of the entry itself (down to a millionth of
    the spread), then a second look: in one tensor holding 1e3 and 1e-6, f may vary with the
    small entry on its own scale (sin(1e6 w)), which a step of the spread crosses a hundred
    times over. Only for entries the spread's step could not settle, so that the common
    case keeps steps that shifting or scaling x does not change."""
    eps = backend.epsilon
    spread = backend.scale(t)
    size = abs(float(backend.original_numpy(t)[entry]))
    h = max(balanced_step(eps, max(size, 1e-6 * spread)), 64 * eps * size)
    plus, minus, span = _central(backend, t, (), h, entry=entry)
    plus, minus = plus[0], minus[0]
    estimate = (plus - minus) / span[0]
    noise = _roundoff(eps, f0, plus, minus, h)
    gap = np.abs((plus - f0) - (f0 - minus)) / h
    settled, used = _second_look(backend, t, entry, h, f0, gap, estimate, given, rtol, noise)
    return settled, used + 2


def _roundoff(eps, f0, plus, minus, h):
    """How far rounding f's values (eps |f|) can move a central difference with step h."""
    return 10 * eps * np.maximum(np.abs(f0), np.maximum(np.abs(plus), np.abs(minus))) / h


def _size(given, numeric, change):
    """The size an entry's error is judged against: the entry (given or measured), or where
    both are zero or nearly, how much f's slope changes over the step (curvature x h: an
    absolute floor, for a zero gradient at a minimum whose f is computed by cancelling large
    terms, and round-off of 1e-14 in its slope is all central differences see)."""
    return np.maximum(np.maximum(np.abs(given), np.abs(numeric)), change)


def _wider_look(backend, t, entry, h, f0, noise, given, rtol, coarsest):
    """Lengthen the step (x8 at a time, up to 5% of the tensor's spread) while a difference
    with half that step still agrees (truncation small), and round-off falls: ((the last
    estimate above round-off, its noise), evaluations), or (None, evaluations). It stops once
    round-off is below ``coarsest`` of the entry: as fine as a judgement needs."""
    used, longest, found = 0, 0.05 * backend.scale(t), None  # a step small beside x's spread
    while 8 * h <= longest:
        h, noise = 8 * h, noise / 8
        estimates, gaps = [], []
        for step in (h, h / 2):
            plus, minus, span = _central(backend, t, (), step, entry=entry)
            estimates.append((plus[0] - minus[0]) / span[0])
            gaps.append(np.abs((plus[0] - f0) - (f0 - minus[0])) / step)
            used += 2
        size = np.maximum(np.abs(given), np.abs(estimates[1]))
        if np.any(np.abs(estimates[1] - estimates[0]) > rtol * size + 2 * noise):
            break  # too long for f's curvature: keep what the shorter steps found
        if np.any((gaps[0] > 4 * noise) & (gaps[0] < 1.5 * gaps[1])):
            break  # the even part does not halve with the step: a kink within reach
        if np.all(2 * noise <= size):
            found = (estimates[1], 2 * noise)  # the entry stands out of round-off
            if np.all(2 * noise <= coarsest * size):
                break
    return found, used


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


def _second_look(backend, t, entry, h, f0, gap, estimate, given, rtol, noise):
    """Halve the step until two central differences agree: ((the estimate, its noise, the
    curvature term at that step), evaluations), or (None, evaluations) where f has a kink at
    x or within reach of the steps.

    Where f is smooth, successive estimates move 4 times less per halving (truncation,
    O(h^2)). Round-off that the noise model (eps |f|) misses, as where f is computed by
    cancelling large terms, makes them move more instead: then the first estimate (the
    longest step, the least round-off) is kept, with three times its observed movement as
    its uncertainty. At a kink at x the gap between the one-sided slopes stays put; round-off
    makes it grow."""
    first, first_noise, first_change, used, moved_before = estimate, noise, gap / 2, 0, None
    estimates = [estimate]
    shortest = 64 * backend.epsilon * abs(float(backend.original_numpy(t)[tuple(entry)]))
    for _ in range(HALVINGS):
        if h / 2 < shortest:  # x cannot store a shorter step: what this one saw, with the
            # even part (round-off of x itself, or a kink) counted as uncertainty
            return (estimate, noise + 3 * gap, gap / 2), used
        h /= 2
        plus, minus, span = _central(backend, t, (), h, entry=tuple(int(i) for i in entry))
        plus, minus = plus[0], minus[0]
        used += 2
        smaller = (plus - minus) / span[0]
        noise = noise * 2
        new_gap = np.abs((plus - f0) - (f0 - minus)) / h
        moved = np.abs(smaller - estimate)
        if np.all(new_gap < 0.25 * gap) and np.all(gap > 10 * noise):
            # the even part collapsed: a kink within reach has just left the step, and the
            # estimates from here on are the derivative's; look once more from here
            estimate, gap, moved_before = smaller, new_gap, None
            estimates.append(smaller)
            continue
        if moved_before is not None and np.all(moved > moved_before):
            # round-off, where the even part halves with the step (smooth) or grows (round-off
            # too); a kink within reach, where it shrinks more slowly than the step. Either
            # way the first estimate is kept, uncertain by three times all the estimates'
            # spread: a gross error still shows, a small one stays unresolved
            if np.any((gap > 10 * noise) & (new_gap > 0.6 * gap) & (new_gap < gap)):
                return None, used
            seen = np.stack([*estimates, smaller])
            return (first, first_noise + 3 * (seen.max(axis=0) - seen.min(axis=0)),
                    first_change), used
        if np.any((gap > 10 * noise) & (new_gap > 0.75 * gap) & (new_gap < 1.5 * gap)):
            return None, used  # the one-sided slopes differ by a jump: a kink at x
        tolerance = rtol * _size(given, smaller, new_gap / 2) + noise
        if np.all(moved <= tolerance + noise):
            return (smaller, noise + moved, new_gap / 2), used
        estimate, gap, moved_before = smaller, new_gap, moved
        estimates.append(smaller)
        if np.all(noise > tolerance):
            break
    return None, used


def _tolerances(given, numeric, noise, change, rtol) -> list[np.ndarray]:
    """Per-entry tolerance of |gradient - central difference|: relative to each entry, or to
    how much f changes over that entry's step where that is more (``_size``), plus the
    entry's own round-off. Each entry is judged on its own, whatever the others' sizes:
    a wrong entry a billion times smaller than the largest still fails. Multiplying f by a
    constant multiplies every term by it."""
    return [rtol * _size(g, n, c) + rn
            for g, n, rn, c in zip(given, numeric, noise, change, strict=True)]


def _report(backend, given, numeric, noise, change, kinks, rtol, f0, evaluations, passes,
            jacobian) -> GradCheckReport:
    tolerances = _tolerances(given, numeric, noise, change, rtol)
    rows, unresolved, max_abs, max_rel = [], 0, 0.0, 0.0
    coarsest = max(1e-3, rtol)
    # the largest |entry| per output of f: round-off below eps^(3/4) of it (2e-12 in float64)
    # is "zero" for every purpose (an entry 3 x^2 at x = 5e-17 beside entries of 1), and is
    # not counted unresolved
    largest = np.max([np.abs(a).max(axis=0) for a in [*given, *numeric] if a.size], axis=0)
    negligible = backend.epsilon ** 0.75 * largest
    for t, (g, n, rn, tol) in enumerate(zip(given, numeric, noise, tolerances, strict=True)):
        err = np.abs(g - n)
        size = np.maximum(np.abs(g), np.abs(n))
        # an entry where f does not change at all and the gradient is zero is judged against
        # |f| per unit of x (f constant along it, to round-off)
        # the entry itself; for a zero gradient, what its slope changes by over the step
        # (not for others: a tiny entry beside a large curvature is still an entry that
        # round-off may swamp)
        reference = np.where(g == 0, np.maximum(size, change[t]), size)
        reference = np.where(reference > 0, reference,
                             np.abs(f0)[None, :] / max(backend.scale(t), 1e-300))
        # an entry below round-off even with the longest steps, where the gradient says it
        # is too (|g| and the difference both under the noise), is zero within round-off
        # when that noise is a millionth of the gradient's largest entry (the key bias of
        # attention, whose true gradient is 0): counted, not unresolved
        zero = (np.abs(g) <= rn) & (np.abs(n) <= rn) & (rn <= 1e-6 * largest)
        # a nonzero entry within the curvature floor (rtol x curvature x step) cannot have its
        # own error judged: a gradient of round-off at a fit that is exact up to round-off
        floored = (g != 0) & (size < 10 * rtol * change[t])
        unresolved += int(np.sum(((rn > coarsest * reference) & (rn > negligible) & ~zero)
                                 | floored))
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: both exactly zero
            ratio = np.where(err == 0, 0.0, err / tol)
            relative = np.where(err == 0, 0.0, err / np.maximum(size, change[t]))
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
    zero = not any(np.any(g) for g in given)
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
        summary = (f"central differences in {backend.precision} cannot resolve {unresolved} of "
                   f"{len(rows)} entries to {coarsest:.0e}: round-off in f swamps the change "
                   f"a step makes; {backend.remedy}")
    elif zero:
        verdict = "passed"
        summary = (f"the {what} is zero, and central differences find no slope larger than "
                   f"{max_abs + max(float(np.max(rn)) for rn in noise):.1e} along any of the "
                   f"{len(rows)} entries")
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
