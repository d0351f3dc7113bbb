"""Gradient descent, written once for the whole book.

The function returns the whole path, so chapters can draw it, and says why it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.calculus import as_float64

__all__ = ["DescentPath", "classify_critical_point", "gradient_descent", "newton_method"]


@dataclass(frozen=True)
class DescentPath:
    """The iterates of a gradient-descent run and why it stopped.

    ``points[k]`` is the k-th iterate (``points[0]`` the start), ``values[k]`` the loss there.
    ``status`` is ``"converged"`` (gradient norm below the tolerance), ``"diverged"`` (the
    iterates or the loss left every bound or became NaN/inf) or ``"max_steps"``.
    """

    points: np.ndarray
    values: np.ndarray
    status: str

    @property
    def steps(self) -> int:
        """Number of steps taken (one less than the number of points)."""
        return len(self.points) - 1

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    @property
    def final(self) -> np.ndarray:
        """The last iterate."""
        return self.points[-1]

    def __repr__(self) -> str:
        return (f"DescentPath(status={self.status!r}, steps={self.steps}, "
                f"final={np.array2string(self.final, precision=6)}, "
                f"final value={self.values[-1]:.6g})")


def gradient_descent(
    f: Callable[[np.ndarray], Any],
    grad: Callable[[np.ndarray], Any],
    x0: Any,
    step_size: float,
    max_steps: int = 1000,
    tol: float = 1e-8,
    bound: float = 1e8,
) -> DescentPath:
    r"""Minimise ``f`` by gradient descent, :math:`w_{k+1} = w_k - \eta \nabla f(w_k)`.

    Stops when :math:`\|\nabla f(w_k)\|_2 \le` ``tol`` (converged), when an iterate or its
    loss is not finite or exceeds ``bound`` in size (diverged), or after ``max_steps`` steps.

    >>> path = gradient_descent(lambda w: w @ w, lambda w: 2 * w, [1.0, -2.0], step_size=0.25)
    >>> path.status, path.final.round(6).tolist()
    ('converged', [0.0, -0.0])
    """
    if not callable(f) or not callable(grad):
        raise TypeError("f and grad must both be functions of one array argument")
    if not step_size > 0:
        raise ValueError(f"step_size must be positive, got {step_size}")
    return _iterate(f, grad, x0, lambda w, g: -step_size * g, max_steps, tol, bound)


def _iterate(f, grad, x0, step: Callable[[np.ndarray, np.ndarray], np.ndarray],
             max_steps: int, tol: float, bound: float) -> DescentPath:
    """The loop shared by gradient descent and Newton's method: ``w <- w + step(w, g)``,
    with their stopping rules. A step that raises LinAlgError ends with "singular"."""
    if int(max_steps) != max_steps or max_steps < 0:
        raise ValueError(f"max_steps must be a non-negative integer, got {max_steps}")
    w = as_float64(x0, "x0")
    points, values = [w], [float(np.asarray(f(w)))]
    status = "max_steps"
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
        for _ in range(int(max_steps) + 1):
            g = np.asarray(grad(w), dtype=np.float64)
            if g.shape != w.shape:
                raise ValueError(f"grad returned shape {g.shape}, but the point has shape "
                                 f"{w.shape}: a gradient has the shape of its variable")
            if not (np.all(np.isfinite(g)) and np.isfinite(values[-1])
                    and np.max(np.abs(w)) <= bound and abs(values[-1]) <= bound):
                status = "diverged"
                break
            if np.linalg.norm(g) <= tol:
                status = "converged"
                break
            if len(points) > max_steps:
                break
            try:
                w = w + step(w, g)
            except np.linalg.LinAlgError:
                status = "singular"
                break
            points.append(w)
            values.append(float(np.asarray(f(w))))
    return DescentPath(np.array(points), np.array(values), status)


def newton_method(
    f: Callable[[np.ndarray], Any],
    grad: Callable[[np.ndarray], Any],
    hess: Callable[[np.ndarray], Any],
    x0: Any,
    max_steps: int = 100,
    tol: float = 1e-10,
    bound: float = 1e8,
) -> DescentPath:
    r"""Newton's method: jump to the critical point of the local quadratic model.

    .. math:: w_{k+1} = w_k - H_f(w_k)^{-1} \nabla f(w_k)

    It seeks any critical point, not only minima: where the Hessian is indefinite the step
    can lead uphill, towards a saddle. A singular Hessian ends the run with status
    ``"singular"``; the other statuses are those of :func:`gradient_descent`.

    >>> newton_method(lambda w: w @ w, lambda w: 2 * w, lambda w: 2 * np.eye(2), [3.0, -1.0]).steps
    1
    """
    if not (callable(f) and callable(grad) and callable(hess)):
        raise TypeError("f, grad and hess must all be functions of one array argument")
    if as_float64(x0, "x0").ndim != 1:
        raise ValueError(f"x0 must be a 1-D vector, got shape {np.shape(x0)}")

    def newton_step(w: np.ndarray, g: np.ndarray) -> np.ndarray:
        h = np.asarray(hess(w), dtype=np.float64)
        if h.shape != (w.size, w.size):
            raise ValueError(f"hess returned shape {h.shape}, expected {(w.size, w.size)}")
        return -np.linalg.solve(h, g)

    return _iterate(f, grad, x0, newton_step, max_steps, tol, bound)


def classify_critical_point(hessian: Any, tol: float = 1e-9) -> str:
    """Classify a critical point from the eigenvalues of its (symmetric) Hessian.

    Returns ``"local minimum"`` (all eigenvalues > 0), ``"local maximum"`` (all < 0),
    ``"saddle point"`` (some of each sign) or ``"inconclusive"`` (no eigenvalue of both
    signs and at least one within ``tol`` of zero: the second-order test cannot decide).

    >>> classify_critical_point([[2.0, 0.0], [0.0, -1.0]])
    'saddle point'
    """
    h = as_float64(hessian, "hessian")
    if h.ndim != 2 or h.shape[0] != h.shape[1]:
        raise ValueError(f"the Hessian must be a square matrix, got shape {h.shape}")
    if not np.allclose(h, h.T, rtol=1e-8, atol=1e-10 * max(1.0, np.abs(h).max())):
        raise ValueError("the Hessian is not symmetric; for a function with continuous second "
                         "partials it must be (symmetrise it with (H + H.T) / 2 if this is "
                         "round-off)")
    eigenvalues = np.linalg.eigvalsh(h)
    scale = max(1.0, float(np.abs(eigenvalues).max()))
    positive = eigenvalues > tol * scale
    negative = eigenvalues < -tol * scale
    if positive.any() and negative.any():
        return "saddle point"
    if positive.all():
        return "local minimum"
    if negative.all():
        return "local maximum"
    return "inconclusive"
