"""What a gradient check found: typed records, and the report as text and HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field


class GradCheckError(ValueError):
    """Bad input to :func:`check_grad`: the message says what was wrong and what to do."""


@dataclass
class Direction:
    """One random direction ``v`` of the directional check.

    ``grad_dot_v`` is the gradient being checked along ``v``, ``numeric_dot_v`` the finite
    differences' estimate of it; ``steps`` and ``remainders`` are the Taylor ladder
    ``r(h) = f(x + h v) - f(x) - h grad.v`` and ``rates`` the slopes of log r against log h.
    """

    index: int
    grad_dot_v: float
    numeric_dot_v: float
    relative_error: float
    resolution: float
    steps: list[float]
    remainders: list[float]
    rates: list[float]
    verdict: str = ""
    note: str = ""


@dataclass
class Entry:
    """One coordinate of the full check: the gradient's value against the central difference."""

    index: str
    gradient: float
    numeric: float


@dataclass
class TensorVerdict:
    """The directional check restricted to one tensor (used to say which tensor is wrong)."""

    index: int
    shape: tuple[int, ...]
    verdict: str
    relative_error: float
    ratio: float | None = None


@dataclass
class GradCheckReport:
    """The outcome of :func:`check_grad`.

    ``verdict`` is ``"passed"``, ``"failed"`` or ``"inconclusive"``; ``bool(report)`` is true
    only for ``"passed"``. ``summary`` says in one sentence what was found. ``evaluations``
    counts the evaluations of ``f`` and ``gradient_passes`` the gradient computations (one
    forward+backward each when autodiff is used). ``steps`` is the first finite-difference
    step taken in each tensor.
    """

    verdict: str
    mode: str
    framework: str
    size: int
    dtype: str
    summary: str
    evaluations: int = 0
    gradient_passes: int = 0
    directions: list[Direction] = field(default_factory=list)
    worst: list[Entry] = field(default_factory=list)
    tensors: list[TensorVerdict] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    max_abs_error: float | None = None
    max_rel_error: float | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def error(self) -> float:
        """The largest absolute error found: of grad . v along a direction, or of an entry."""
        if self.directions:
            return max(abs(d.numeric_dot_v - d.grad_dot_v) for d in self.directions)
        return self.max_abs_error or 0.0

    @property
    def shortest_step(self) -> float:
        """The shortest step the error was measured with (in the units of ``error``'s slope):
        a change j in f's values moves a slope by about j / this."""
        if self.directions:
            return min(min(d.steps) for d in self.directions if d.steps)
        return min(self.steps) / 2 if self.steps else 1.0

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
        for e in self.worst:
            out.append(f"  entry {e.index}: gradient {e.gradient:.10g}, "
                       f"finite difference {e.numeric:.10g}")
        for d in self.directions:
            out.append(f"  direction {d.index}: grad.v = {d.grad_dot_v:.10g}, finite "
                       f"differences {d.numeric_dot_v:.10g}, relative error "
                       f"{d.relative_error:.2e}, rates {format_rates(d.rates)}"
                       + (f", {d.note}" if d.note else ""))
        for t in self.tensors:
            out.append(f"  tensor {t.index} {t.shape}: {t.verdict}, relative error "
                       f"{t.relative_error:.2e}"
                       + (f", ratio {t.ratio:.3g}" if t.ratio is not None else ""))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        color = {"passed": "#1a7f37", "failed": "#cf222e"}.get(self.verdict, "#9a6700")
        head, *rest = self.lines()
        items = "".join(f"<li><code>{html.escape(line.strip())}</code></li>" for line in rest)
        return (f'<div><strong style="color:{color}">{html.escape(head)}</strong>'
                f"<ul>{items}</ul></div>")


def format_rates(rates: Sequence[float]) -> str:
    return "[" + ", ".join(f"{r:.2f}" if math.isfinite(r) else "n/a" for r in rates) + "]"


def describe_ratio(given: float, true: float) -> str:
    """How a wrong number relates to the right one, in words: "off by +3%", "sign flipped"..."""
    if true == 0:
        return "nonzero where finite differences see no change"
    ratio = given / true
    if abs(ratio - 1) < 0.05:
        return f"off by {100 * (ratio - 1):+.3g}%"
    if abs(ratio + 1) < 0.05:
        return "of the wrong sign"
    if abs(ratio - round(ratio)) < 0.05 and round(ratio) not in (0, 1):
        return f"off by a factor of ~{round(ratio)}"
    if ratio != 0 and abs(1 / ratio - round(1 / ratio)) < 0.05 and round(1 / ratio) > 1:
        return f"off by a factor of ~1/{round(1 / ratio)}"
    return f"off by a factor of {ratio:.4g}"
