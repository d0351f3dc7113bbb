"""Numerical calculus in float64: finite differences, linear approximations, log-log slopes.

Everything here works on NumPy float64 arrays. Finite differences are computed in float64
because in float32 the round-off error of ``f(x + h) - f(x - h)`` (about ``eps32 * |f| / h``,
eps32 ~ 1.2e-7) swamps the derivative for the small steps used here: with ``h = 1e-6`` a
float32 central difference is already wrong in the second digit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "as_float64",
    "balanced_step",
    "central_difference",
    "central_pairs",
    "linear_approximation",
    "loglog_slope",
    "numerical_gradient",
    "numerical_hessian",
    "numerical_jacobian",
    "quadratic_approximation",
]

ScalarFunction = Callable[[np.ndarray], Any]


def as_float64(x: Any, name: str = "x") -> np.ndarray:
    """Return ``x`` as a float64 array, refusing what cannot be a point of a real function.

    >>> as_float64([1, 2])
    array([1., 2.])
    """
    array = np.asarray(x)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise TypeError(f"{name} must be a real number or array of them, got {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} is complex; these helpers are for real functions of real inputs")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; pass a finite point")
    return array


def _scalar_value(f: ScalarFunction, x: np.ndarray) -> float:
    """Evaluate ``f`` at ``x`` and insist on one finite real number."""
    value = np.asarray(f(x))
    if value.size != 1:
        raise ValueError(
            f"f must return a scalar, but f(x) has shape {value.shape}; "
            "differentiate each output separately or reduce it (e.g. sum) first"
        )
    return float(value.reshape(()))


def _check_callable(f: Any) -> None:
    if not callable(f):
        raise TypeError(f"f must be a function of one array argument, got {type(f).__name__}")


def central_difference(f: ScalarFunction, x: Any, direction: Any, h: float = 1e-6) -> float:
    r"""Directional derivative of ``f`` at ``x`` along ``direction`` by a central difference.

    .. math:: D_v f(x) \approx \frac{f(x + h v) - f(x - h v)}{2h}

    The error is :math:`O(h^2)` from truncation plus :math:`O(\epsilon |f| / h)` from round-off,
    which is why the default ``h = 1e-6`` is meant for float64.

    >>> round(central_difference(lambda x: x[0] ** 2, [3.0], [1.0]), 6)
    6.0
    """
    _check_callable(f)
    x = as_float64(x)
    v = as_float64(direction, "direction")
    if v.shape != x.shape:
        raise ValueError(f"direction has shape {v.shape} but x has shape {x.shape}")
    if not h > 0:
        raise ValueError(f"step h must be positive, got {h}")
    return (_scalar_value(f, x + h * v) - _scalar_value(f, x - h * v)) / (2 * h)


def numerical_gradient(f: ScalarFunction, x: Any, h: float = 1e-6) -> np.ndarray:
    r"""Gradient of a scalar function by central differences, one coordinate at a time.

    .. math:: \frac{\partial f}{\partial x_i}(x) \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    The result has the shape of ``x`` (denominator layout). It costs ``2 * x.size``
    evaluations of ``f``, so it is for checking small examples, not for training.

    >>> numerical_gradient(lambda p: p[0] * p[1], [2.0, 5.0]).round(6)
    array([5., 2.])
    """
    _check_callable(f)
    x = as_float64(x)
    if not h > 0:
        raise ValueError(f"step h must be positive, got {h}")
    plus, minus = central_pairs(lambda index, step: _scalar_value(f, _moved(x, index, step)),
                                x.shape, h)
    return (plus - minus) / (2 * h)


def numerical_jacobian(f: Callable[[np.ndarray], Any], x: Any, h: float = 1e-6) -> np.ndarray:
    r"""Jacobian of a vector function by central differences, one column per coordinate of x.

    .. math:: J_{ij}(x) = \frac{\partial f_i}{\partial x_j}(x) \approx
              \frac{f_i(x + h e_j) - f_i(x - h e_j)}{2h}

    For ``f: R^n -> R^m`` the result is ``m x n`` (numerator layout: a row per output, a
    column per input); in general it has shape ``f(x).shape + x.shape``. For a scalar ``f``
    this is the gradient as a 1 x n row, the transpose of :func:`numerical_gradient`.

    >>> numerical_jacobian(lambda p: np.array([p[0] * p[1], 3 * p[0]]), [2.0, 5.0]).round(6)
    array([[5., 2.],
           [3., 0.]])
    """
    _check_callable(f)
    x = as_float64(x)
    if not h > 0:
        raise ValueError(f"step h must be positive, got {h}")
    out_shape = as_float64(f(x), "f(x)").shape
    plus, minus = central_pairs(
        lambda index, step: as_float64(f(_moved(x, index, step)), "f(x + h e_i)"), x.shape, h)
    # central_pairs puts x's axes first; a Jacobian has a row per output
    jacobian = np.moveaxis((plus - minus) / (2 * h), tuple(range(x.ndim)),
                           tuple(range(len(out_shape), len(out_shape) + x.ndim)))
    return jacobian if out_shape else jacobian.reshape((1, *x.shape))


def central_pairs(evaluate: Callable[[tuple, float], Any], shape: tuple, steps: Any
                  ) -> tuple[np.ndarray, np.ndarray]:
    r"""f at :math:`x + h_i e_i` and at :math:`x - h_i e_i`, for every coordinate i of x.

    This is the one loop behind every central difference in ``helpers``: the two functions
    above, and ``check_grad``'s full mode, which moves x in place instead of copying it.
    ``evaluate(index, h)`` returns f (a number or an array) at x moved by ``h`` in coordinate
    ``index``; ``steps`` is one step, or an array of ``shape`` with a step per coordinate.
    Returns ``(plus, minus)``, each of shape ``shape + f's shape``.
    """
    steps = np.broadcast_to(np.asarray(steps, dtype=np.float64), shape)
    plus = minus = None
    for index in np.ndindex(shape):
        up = np.asarray(evaluate(index, float(steps[index])), dtype=np.float64)
        down = np.asarray(evaluate(index, -float(steps[index])), dtype=np.float64)
        if plus is None:
            plus, minus = np.empty(shape + up.shape), np.empty(shape + up.shape)
        plus[index], minus[index] = up, down
    if plus is None:  # x has no entries
        return np.empty(shape), np.empty(shape)
    return plus, minus


def balanced_step(epsilon: float, scale: float = 1.0) -> float:
    r"""The step that balances a central difference's two errors: :math:`\epsilon^{1/3}` s.

    Truncation grows like :math:`h^2` and round-off like :math:`\epsilon |f| / h`; their sum
    is smallest near :math:`h = \epsilon^{1/3}` in units of the scale ``s`` on which f varies
    with x. This is ``check_grad``'s step policy, in both of its modes.
    """
    return epsilon ** (1 / 3) * scale


def _moved(x: np.ndarray, index: tuple, h: float) -> np.ndarray:
    moved = x.copy()
    moved[index] = x[index] + h
    return moved


def linear_approximation(f: ScalarFunction, grad: Callable[[np.ndarray], Any], x0: Any,
                         step: Any) -> float:
    r"""First-order (tangent-plane) approximation of ``f(x0 + step)``.

    .. math:: f(x_0 + e) \approx f(x_0) + e \cdot \nabla f(x_0)

    >>> linear_approximation(lambda x: x[0] ** 2, lambda x: 2 * x, [1.0], [0.1])
    1.2
    """
    _check_callable(f)
    _check_callable(grad)
    x0 = as_float64(x0, "x0")
    e = as_float64(step, "step")
    g = as_float64(grad(x0), "grad(x0)")
    if g.shape != x0.shape or e.shape != x0.shape:
        raise ValueError(
            f"shapes disagree: x0 {x0.shape}, step {e.shape}, grad(x0) {g.shape}; "
            "the gradient must have the shape of the point"
        )
    return _scalar_value(f, x0) + float(np.sum(e * g))


def loglog_slope(x: Any, y: Any) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the p in ``y ~ C x^p``.

    An approximation error that shrinks like ``|e|^2`` has slope 2.

    >>> round(loglog_slope([1e-1, 1e-2, 1e-3], [1e-2, 1e-4, 1e-6]), 6)
    2.0
    """
    x = as_float64(x, "x")
    y = as_float64(y, "y")
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError("x and y must be 1-D arrays of the same length, at least 2 points")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("a log-log slope needs positive x and y (take absolute errors first)")
    slope, _intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope)


def numerical_hessian(f: ScalarFunction, x: Any, h: float = 1e-4) -> np.ndarray:
    r"""Hessian of a scalar function of a vector by second-order central differences.

    .. math:: H_{ij} \approx \frac{f(x + h e_i + h e_j) - f(x + h e_i - h e_j)
              - f(x - h e_i + h e_j) + f(x - h e_i - h e_j)}{4 h^2}

    The default ``h = 1e-4`` balances truncation (``h**2``) against round-off
    (``eps * |f| / h**2``) in float64, leaving about eight correct digits. ``x`` must be 1-D;
    the result is an ``(n, n)`` array, symmetric by construction. Costs ``4 n**2`` evaluations.

    >>> numerical_hessian(lambda v: v[0] ** 2 * v[1], [1.0, 2.0]).round(6)
    array([[4., 2.],
           [2., 0.]])
    """
    _check_callable(f)
    x = as_float64(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D vector, got shape {x.shape}; flatten it first")
    n = x.size
    hessian = np.empty((n, n))
    eye = np.eye(n) * h
    for i in range(n):
        for j in range(i, n):
            value = (_scalar_value(f, x + eye[i] + eye[j]) - _scalar_value(f, x + eye[i] - eye[j])
                     - _scalar_value(f, x - eye[i] + eye[j])
                     + _scalar_value(f, x - eye[i] - eye[j])) / (4 * h * h)
            hessian[i, j] = hessian[j, i] = value
    return hessian


def quadratic_approximation(f: ScalarFunction, grad: Callable[[np.ndarray], Any],
                            hess: Callable[[np.ndarray], Any], x0: Any, step: Any) -> float:
    r"""Second-order (quadratic) approximation of ``f(x0 + step)``.

    .. math:: f(x_0 + d) \approx f(x_0) + \nabla f(x_0) \cdot d
              + \tfrac{1}{2}\, d^\top H_f(x_0)\, d

    The factor 1/2 is what makes the model exact for quadratics (and its error shrink like
    ``|d|**3``); without it the error shrinks only like ``|d|**2``.

    >>> quadratic_approximation(lambda x: x[0] ** 2, lambda x: 2 * x,
    ...                         lambda x: np.array([[2.0]]), [1.0], [0.5])
    2.25
    """
    _check_callable(hess)
    x0 = as_float64(x0, "x0")
    d = as_float64(step, "step")
    h = as_float64(hess(x0), "hess(x0)")
    if x0.ndim != 1 or h.shape != (x0.size, x0.size):
        raise ValueError(f"the Hessian must be an (n, n) matrix for a vector x0 of length n; "
                         f"got x0 {x0.shape} and Hessian {h.shape}")
    return linear_approximation(f, grad, x0, d) + 0.5 * float(d @ h @ d)
