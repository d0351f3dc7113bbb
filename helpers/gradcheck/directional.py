"""The directional check: a Taylor ladder along a few random directions, at any N.

Along a direction v the remainder ``r(h) = f(x + h v) - f(x) - h grad.v`` shrinks like
``h**2`` when the gradient is right and like ``h`` when it is wrong. Three rungs (h, h/2,
h/4) give two Richardson estimates of the error of ``grad . v``; their spread measures what
truncation leaves, so the tolerance rests on what was measured, not on an assumption.

A ladder that does not pass is *scrutinised* before any verdict: the mirrored steps
``x - h v`` are measured too, and the step is halved until central differences settle.
Their even part ``(f(x+hv) + f(x-hv))/2 - f(x)`` shrinks by exactly 4 per halving where f is
smooth; what it does instead measures the kinks the steps cross (a ReLU switching, |x_i|
passing 0), and that amount is added to the uncertainty. So a wrong gradient fails, a kink
gives "inconclusive" (or passes once the steps are small enough to cross none), and steps
too large for f (parameters far from zero) shrink until they fit.

Invariances, by construction: every tolerance is relative to grad . v, so scaling f scales
nothing; steps are in units of each tensor's spread, so scaling x or shifting it by a
constant gives the same ladder. Rounding x + h v to x's dtype moves x by a little more or
less than h v, by eps |x| per entry: for a tensor whose entries sit far from zero compared
with their spread (parameters shifted by 1e6, a LayerNorm gain of ones), the displacement
actually stored is measured and grad . (that displacement) is what f's change is compared
with, so rounding x costs nothing. Where f's own round-off still swamps the ladder, the step
is lengthened (x8 at a time, while it stays under 5% of the spread).

A gradient that is exactly zero has no size to be relative to: its ladder is judged against
how much f changes over the steps (or |f| where f does not change), and the summary says
the gradient is zero.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from helpers.calculus import balanced_step
from helpers.gradcheck.backend import Backend
from helpers.gradcheck.report import (
    Direction,
    GradCheckReport,
    TensorVerdict,
    describe_ratio,
    format_rates,
)

MAX_HALVINGS = 24  # the scrutiny stops earlier, when round-off would swamp a 1e-3 error
LONGEST = 0.05  # a lengthened step stays under this share of each tensor's spread


@dataclass
class Ladder:
    """What was measured along one direction (restricted to some tensors)."""

    index: int
    gv: float  # the gradient being checked, along v
    typical: float  # the size grad . v has for such a direction: sqrt(sum (|g_i| s_i)^2)
    steps: list[float]
    values: list[float]  # f(x + h v) per step
    estimate: float = 0.0  # finite differences' grad . v
    uncertainty: float = 0.0
    evaluations: int = 0
    verdict: str = ""
    note: str = ""
    mirrored: list[float] = field(default_factory=list)  # f(x - h v) per step, when measured
    moved: list[float] = field(default_factory=list)  # grad . (x - x0) at each value
    mirrored_moved: list[float] = field(default_factory=list)  # ... at each mirrored value
    f0: float = 0.0
    noise: float = 0.0  # the part of the uncertainty that round-off makes
    best: tuple[float, float] = (0.0, math.inf)  # the scrutiny's best estimate and its error
    curvature: float = 0.0  # |f - f0 - grad . d| / h^2 at the first rung

    @property
    def noisy(self) -> bool:
        """Round-off, not truncation or kinks, is most of what keeps this ladder undecided."""
        return self.noise >= 0.5 * self.uncertainty > 0

    @property
    def zero(self) -> bool:
        """The gradient being checked is zero on the tensors moved."""
        return self.typical == 0 and self.gv == 0

    @property
    def scale(self) -> float:
        if self.zero:  # how much f changes over the steps (or |f|, where it does not)
            change = max((abs(v - self.f0) / h for v, h in zip(
                self.values, self.steps, strict=False)), default=0.0)
            return max(change, abs(self.f0), 1e-300)
        return max(self.typical, abs(self.gv), abs(self.estimate), 1e-300)

    @property
    def relative_error(self) -> float:
        return abs(self.estimate - self.gv) / self.scale

    @property
    def resolution(self) -> float:
        return self.uncertainty / self.scale

    def remainders(self, f0: float) -> list[float]:
        return [fh - f0 - moved for fh, moved in zip(self.values, self.moved, strict=False)]

    def record(self, f0: float) -> Direction:
        r = self.remainders(f0)
        rates = [math.log2(abs(a) / abs(b)) if a != 0 and b != 0 else math.nan
                 for a, b in itertools.pairwise(r)]
        return Direction(index=self.index, grad_dot_v=self.gv, numeric_dot_v=self.estimate,
                         relative_error=self.relative_error, resolution=self.resolution,
                         steps=self.steps[:len(r)], remainders=r, rates=rates,
                         verdict=self.verdict, note=self.note)


@dataclass
class Judge:
    """passed / failed / inconclusive from an error and the uncertainty of its measurement."""

    rtol: float
    resolvable: float  # a measurement coarser than this (relative) judges nothing

    def __call__(self, error: float, resolution: float) -> str:
        if error > max(self.rtol, 3 * resolution):
            return "failed"  # an error the measurement resolves, however coarse it is
        # a pass needs a measurement fine enough for the error accepted (the user's rtol, if
        # coarser than the default)
        return "passed" if resolution <= self.coarsest else "inconclusive"

    @property
    def coarsest(self) -> float:
        return self.resolvable


class Walk:
    """x moved along one direction: where it is, and grad . (the displacement stored).

    Tensors whose rounding matters (``exact``) have their stored displacement measured at
    every point; the others are taken at their nominal ``t grad . v``, whose rounding is far
    below any tolerance (``rounding_matters``)."""

    def __init__(self, backend: Backend, grads: list, ids: Sequence[int], seed: int,
                 index: int, h: float, rtol: float):
        self.backend, self.grads, self.ids = backend, grads, list(ids)
        self.exact = [i for i in ids if rounding_matters(backend, i, h, rtol)]
        self.rest = [i for i in ids if i not in self.exact]
        # how far rounding moves x, per unit of step: eps |x_i| / s_i (its second-order
        # effect on f, curvature x h x this, is what measuring the displacement leaves)
        self.rounding = max((rounding(backend, i) for i in self.exact), default=0.0)
        self.position = h
        self.gv_rest = backend.displace(self.rest, seed, index, h, grads) if self.rest else 0.0
        self.gv = self.gv_rest + (backend.displace(self.exact, seed, index, h, grads)
                                  if self.exact else 0.0)

    def value(self) -> tuple[float, float]:
        """(f here, grad . (x - x0) here)."""
        moved = self.position * self.gv_rest  # (gv_rest is gv when no tensor is exact)
        if self.exact:
            moved += self.backend.moved_dot(self.exact, self.grads)
        return self.backend.value(), moved

    def move_to(self, position: float) -> None:
        if position != self.position:
            self.backend.rescale(self.ids, position / self.position)
            self.position = position


def rounding(backend: Backend, i: int) -> float:
    """How far rounding x_i + h v_i moves tensor i, per unit of step: eps |x_i| / s_i."""
    return backend.epsilon * backend.magnitude(i) / backend.scale(i)


def rounding_matters(backend: Backend, i: int, h: float, rtol: float) -> bool:
    """Whether rounding x + h v to x's dtype (eps |x| per entry) could move grad . v by a
    tenth of the tolerance, at the ladder's smallest steps (h / 8)."""
    return backend.epsilon * backend.magnitude(i) / (h / 8 * backend.scale(i)) > 0.1 * rtol


def check_directional(backend: Backend, f0: float, grads: list, gradient_passes: int,
                      evaluations: int, directions: int, seed: int, judge: Judge,
                      rungs: int) -> GradCheckReport:
    eps = backend.epsilon
    # 8x the balanced step: the Richardson combination cancels the h^2 term, and the three
    # rungs measure what it leaves, so a longer step, with less round-off, is safe (the
    # reliability benchmark's misses of a 1e-6 error in one tensor fell from 4 to 2 in 30)
    h0 = 8 * balanced_step(eps)
    every = list(range(len(backend.tensors)))
    # parameters far from zero beside their spread (at 1e8, a spread of 0.3): a step long
    # enough that rounding x + h v moves x by under 1e-4 of h v at the smallest rung
    h0 = min(max(h0, 4e4 * max(rounding(backend, i) for i in every)), LONGEST)
    ladders = []
    for k in range(directions):
        ladder = measure(backend, f0, grads, every, seed, k, h0, rungs, judge)
        evaluations += ladder.evaluations
        ladders.append(ladder)
    verdicts = {ladder.verdict for ladder in ladders}
    tensors: list[TensorVerdict] = []
    zero = all(x.zero for x in ladders)
    if "failed" in verdicts:
        worst = max((x for x in ladders if x.verdict == "failed"),
                    key=lambda x: x.relative_error)
        verdict, summary = "failed", describe_failure(worst, f0)
        if len(every) > 1:
            tensors = locate(backend, f0, grads, seed, worst, h0 / 2)
            evaluations += 2 * len(every)
            bad = [t.index for t in tensors if t.verdict == "failed"]
            if bad:
                summary += (f"; per-tensor checks locate it in tensor{'s' if len(bad) > 1 else ''}"
                            f" {', '.join(map(str, bad))}")
    elif verdicts == {"passed"}:
        verdict = "passed"
        error = max(x.relative_error for x in ladders)
        resolution = max(x.resolution for x in ladders)
        along = f"along {len(ladders)} random direction{'s' if len(ladders) > 1 else ''}"
        if zero:
            bound = max(max(abs(x.estimate), 3 * x.uncertainty) for x in ladders)
            summary = (f"the gradient is zero, and finite differences find no slope larger "
                       f"than {bound:.1e} {along} (f changes by {ladders[0].scale:.1e} per unit "
                       "step)")
        else:
            summary = (f"grad.v agrees with finite differences to {error:.1e} (relative; "
                       f"resolution {resolution:.0e}) {along}; remainder rates "
                       f"{format_rates(ladders[0].record(f0).rates)}")
    else:
        verdict = "inconclusive"
        notes = [x.note for x in ladders if x.note]
        summary = notes[0] if notes else (
            f"finite differences in {backend.precision} cannot resolve the gradient to "
            f"{judge.coarsest:.0e} (uncertainty {max(x.resolution for x in ladders):.1e} "
            f"relative): round-off in f swamps the change the steps make; {backend.remedy}")
    return GradCheckReport(
        verdict=verdict, mode="directional", framework=backend.framework, size=backend.size,
        dtype=backend.dtype, summary=summary, evaluations=evaluations,
        gradient_passes=gradient_passes, directions=[x.record(f0) for x in ladders],
        tensors=tensors, steps=[ladders[0].steps[0] * backend.scale(i) for i in every])


def measure(backend: Backend, f0: float, grads: list, ids: Sequence[int], seed: int,
            index: int, h0: float, rungs: int, judge: Judge) -> Ladder:
    """One direction: the ladder, its verdict, and the scrutiny of a ladder that did not
    pass; where round-off in f left it undecided, the same with a step 8 times longer (while
    the step stays under ``LONGEST``). x is restored exactly before this returns or raises."""
    evaluations, shorter = 0, None
    while True:
        ladder = _measure_once(backend, f0, grads, ids, seed, index, h0, rungs, judge)
        evaluations += ladder.evaluations
        if shorter is not None and abs(ladder.estimate - ladder.gv) > \
                2 * abs(shorter.estimate - shorter.gv) + shorter.uncertainty:
            # the discrepancy grew with the step, as kinks crossed make it (many |t| near 0),
            # not as round-off would: the shorter step's undecided answer stands
            ladder = shorter
            ladder.note = ("finite differences cannot judge the gradient here: the discrepancy "
                           "grows with the step, as where the steps cross many kinks (|t| near "
                           "0, ReLU switching), and shorter steps lose it to round-off")
            break
        if ladder.verdict != "inconclusive" or ladder.note or not ladder.noisy:
            break
        if 8 * h0 > LONGEST:  # as long as a step may be: judge what the best level saw
            if ladder.best[1] < ladder.uncertainty:
                ladder.estimate, ladder.uncertainty = ladder.best
            ladder.verdict = judge(ladder.relative_error, ladder.resolution)
            break
        shorter, h0 = ladder, 8 * h0
    ladder.evaluations = evaluations
    return ladder


def _measure_once(backend: Backend, f0: float, grads: list, ids: Sequence[int], seed: int,
                  index: int, h0: float, rungs: int, judge: Judge) -> Ladder:
    steps = [h0 / 2**k for k in range(rungs)]
    try:
        walk = Walk(backend, grads, ids, seed, index, steps[0], judge.rtol)
        typical = math.hypot(*(backend.gradient_norms[i] * backend.scale(i) for i in ids))
        ladder = Ladder(index, walk.gv, typical, steps, [], f0=f0)
        for h in steps:
            walk.move_to(h)
            value, moved = walk.value()
            ladder.values.append(value)
            ladder.moved.append(moved)
        ladder.evaluations = rungs
        _richardson(ladder, f0, backend, walk)
        ladder.verdict = judge(ladder.relative_error, ladder.resolution)
        # a pass at a resolution ten times coarser than rtol (kinks crossed, steps too long
        # for f) is looked at as closely as a failure
        if ladder.verdict != "passed" or ladder.resolution > 10 * judge.rtol:
            scrutinise(backend, f0, ladder, walk, judge)
    finally:
        backend.restore_all(ids)
    return ladder


def locate(backend: Backend, f0: float, grads: list, seed: int, failed: Ladder,
           h: float) -> list[TensorVerdict]:
    """Which tensors carry the error a failed direction found: a central difference along
    each tensor alone (two evaluations each; x restored after each).

    A tensor whose own relative error is at least a tenth of the one found, and well above
    its round-off, is named. The others agree to their truncation and round-off, 1e-10 or
    so, far below any error that made the check fail."""
    out = []
    for i in range(len(backend.tensors)):
        try:
            walk = Walk(backend, grads, [i], seed, failed.index, h, 1e-9)
            plus, moved_plus = walk.value()
            walk.move_to(-h)
            minus, moved_minus = walk.value()
        finally:
            backend.restore_all([i])
        typical = backend.gradient_norms[i] * backend.scale(i)
        slope = ((plus - moved_plus) - (minus - moved_minus)) / (2 * h) + walk.gv
        one = Ladder(failed.index, walk.gv, typical, [h], [plus], estimate=slope, f0=f0)
        noise = _noise(backend, f0, [plus, minus], walk, h) / one.scale
        carries = one.relative_error >= 0.1 * failed.relative_error and \
            one.relative_error > 3 * noise
        out.append(TensorVerdict(i, backend.shape(i), "failed" if carries else "passed",
                                 one.relative_error,
                                 one.gv / one.estimate if carries and one.estimate else None))
    return out


def _noise(backend: Backend, f0: float, values: Sequence[float], walk: Walk,
           h: float, curvature: float = 0.0) -> float:
    """How far round-off can move a slope measured with step h: the rounding of f's values
    (eps |f|) and of x + h v itself (eps |x_i| per entry, weighted by the gradient) for the
    tensors whose stored displacement is not measured. For those whose displacement is
    measured, the first-order effect is gone; the second-order one, where the displacement
    differs from h v by up to eps |x_i|, moves the slope by about curvature x that, at any
    step (parameters at 1e8 with a spread of 0.03: ~1e-6 of the slope's size)."""
    eps = backend.epsilon
    in_x = math.hypot(*(backend.gradient_norms[i] * backend.magnitude(i) for i in walk.rest))
    return 8 * eps * (max(abs(f0), *map(abs, values)) + in_x) / h + \
        16 * curvature * walk.rounding


def _richardson(ladder: Ladder, f0: float, backend: Backend, walk: Walk) -> None:
    """The error of grad . v from the forward rungs, and how well it is known.

    r(h) = d h + c h^2 + e h^3 + ..., so (4 r(h/2) - r(h)) / h = d - e h^2 / 2 + ..., where d
    is (true directional derivative) - grad . v. With three or more rungs, successive
    estimates differ by 3/4 of the leftover of the first: their spread bounds it. With two,
    the leftover is bounded by 1% of the curvature term c h = r(h) / h."""
    r, steps = ladder.remainders(f0), ladder.steps
    estimates = [(4 * r[k + 1] - r[k]) / steps[k] for k in range(len(r) - 1)]
    truncation = abs(estimates[-1] - estimates[-2]) if len(estimates) > 1 else \
        0.01 * abs(r[0]) / steps[0]
    ladder.estimate = ladder.gv + estimates[-1]
    ladder.curvature = abs(r[0]) / steps[0] ** 2
    ladder.noise = _noise(backend, f0, ladder.values, walk, steps[-1], ladder.curvature)
    ladder.uncertainty = ladder.noise + truncation


def scrutinise(backend: Backend, f0: float, ladder: Ladder, walk: Walk, judge: Judge) -> None:
    """Central differences at the ladder's steps and, while they have not settled, at half
    the step, until the evidence decides or round-off would swamp a 1e-3 error.

    Runs while x is still displaced by the smallest step; mirrors it first (-h, -2h, ...).
    """
    steps = ladder.steps
    mirrored, mirrored_moved = [], []
    for h in reversed(steps):
        walk.move_to(-h)
        value, moved = walk.value()
        mirrored.insert(0, value)
        mirrored_moved.insert(0, moved)
    ladder.evaluations += len(mirrored)
    ladder.mirrored, ladder.mirrored_moved = mirrored, mirrored_moved
    # the forward ladder's failure is the first of the two agreeing levels a failure needs
    # (where round-off forbids any halving, as in float32, it is the only other one)
    kinks, persisting, rising, last_truncation = 0.0, 0, 0, math.inf
    failing = ladder.estimate if ladder.verdict == "failed" else None
    for k in range(MAX_HALVINGS + len(steps)):
        if k >= len(steps):  # a new, smaller step: both sides
            h = steps[-1] / 2
            for side, values, moves in ((h, ladder.values, ladder.moved),
                                        (-h, ladder.mirrored, ladder.mirrored_moved)):
                walk.move_to(side)
                value, moved = walk.value()
                values.append(value)
                moves.append(moved)
            steps.append(h)
            ladder.evaluations += 2
        if k < 1:
            continue
        # f less the first-order change grad . (x - x0) predicts, on each side
        plus = [v - m for v, m in zip(ladder.values[k - 1:k + 1], ladder.moved[k - 1:k + 1],
                                      strict=True)]
        minus = [v - m for v, m in zip(ladder.mirrored[k - 1:k + 1],
                                       ladder.mirrored_moved[k - 1:k + 1], strict=True)]
        slopes = [ladder.gv + (p - m) / (2 * s) for p, m, s in
                  zip(plus, minus, steps[k - 1:k + 1], strict=True)]
        even = [(p + m) / 2 - f0 for p, m in zip(plus, minus, strict=True)]
        # smooth: even part c h^2 + O(h^4), so E(2h) - 4 E(h) = O(h^4); a kink crossed (or
        # at x) leaves a term of order (slope jump) x h
        last, kinks = kinks, abs(even[0] - 4 * even[1]) / steps[k - 1]
        # a kink *at* x shows at every step alike; crossed ones fade as the step shrinks
        persisting = persisting + 1 if kinks > 0.7 * last > 0 else 0
        estimate = (4 * slopes[1] - slopes[0]) / 3  # Richardson: error O(h^4)
        noise = _noise(backend, f0, ladder.values[k - 1:k + 1] + ladder.mirrored[k - 1:k + 1],
                       walk, steps[k], ladder.curvature)
        truncation = abs(slopes[1] - slopes[0]) / 3
        # smooth f: truncation shrinks ~4x per halving, and what kinks do stays or fades;
        # where either grows like 1 / h instead, round-off in f (more than eps |f|, where f
        # cancels large terms) is what the slopes measure
        rising = rising + 1 if truncation > 2 * last_truncation or kinks > 1.5 * last > 0 \
            else 0
        last_truncation = truncation
        ladder.estimate = estimate
        ladder.noise = 2 * noise
        ladder.uncertainty = 2 * noise + truncation + kinks
        verdict = judge(ladder.relative_error, ladder.resolution)
        # A failure counts when two successive levels see the same error: a wrong gradient's
        # error does not depend on the step; what kinks do to a difference does.
        previous, failing = failing, (estimate if verdict == "failed" else None)
        if failing is not None and previous is not None and \
                abs(failing - previous) <= 0.1 * abs(failing - ladder.gv):
            ladder.verdict, ladder.note = "failed", ""
            return
        if ladder.uncertainty < ladder.best[1]:
            ladder.best = (estimate, ladder.uncertainty)
        if rising >= 2:  # shorter steps only make it worse: measure() lengthens them
            ladder.noise = ladder.uncertainty = max(ladder.uncertainty, truncation)
            ladder.verdict, ladder.note = "inconclusive", ""
            return
        if verdict == "passed" and not rising and (kinks <= noise or
                                                   ladder.resolution < judge.rtol):
            ladder.verdict, ladder.note = verdict, ""
            return
        if 2 * noise > judge.coarsest * ladder.scale or persisting >= 10:
            break  # a smaller step would only be worse, or would meet the same kink
        if walk.rounding > 1e-3 * steps[k]:  # x can barely store a shorter step
            ladder.noise = ladder.uncertainty
            break
    ladder.verdict = "inconclusive"
    if kinks > noise and kinks >= truncation:
        ladder.note = ("f is not differentiable along this direction near x: its even part "
                       "does not scale like h^2 at any step, as where the steps cross kinks "
                       "(a ReLU switching, |t| at 0)")


def describe_failure(ladder: Ladder, f0: float) -> str:
    rates = format_rates(ladder.record(f0).rates)
    if ladder.zero:
        return (f"the gradient is zero, but finite differences find a slope of "
                f"{ladder.estimate:.6g} along direction {ladder.index}; remainder rates {rates}")
    return (f"the gradient is {describe_ratio(ladder.gv, ladder.estimate)} along direction "
            f"{ladder.index} (grad.v = {ladder.gv:.6g}, finite differences give "
            f"{ladder.estimate:.6g}); remainder rates {rates}, where a right gradient gives 2")
