"""Plots of functions of two variables: surfaces, tangent planes, contours, gradient fields.

Conventions for every function here:

* a function of two variables is called with one point ``p`` (``p[0]`` is x, ``p[1]`` is y).
  If it is written with NumPy operations on ``p[0]`` and ``p[1]`` it is evaluated on a whole
  grid at once; otherwise it is called point by point;
* a gradient function returns an array of the shape of ``p``;
* each function takes ``ax=None`` (a new figure is made if none is given), returns the Axes it
  drew on, and never edits matplotlib's global state (rcParams, styles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.calculus import as_float64, loglog_slope

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "contour_with_gradients",
    "error_loglog",
    "evaluate_on_grid",
    "plot_path",
    "surface",
    "surface_with_tangent_plane",
    "tangent_plane",
]

Function2D = Callable[[np.ndarray], Any]


def _pyplot():
    # Imported on first use: pyplot alone costs about a third of a second at import time.
    import matplotlib.pyplot as plt

    return plt


def evaluate_on_grid(f: Function2D, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Values of ``f`` on the grid ``(x, y)`` (two arrays of one shape), vectorised if possible.

    A gradient function gives an array of shape ``(2, *x.shape)``.

    >>> X, Y = np.meshgrid([0.0, 1.0], [0.0, 2.0])
    >>> evaluate_on_grid(lambda p: p[0] + p[1], X, Y)
    array([[0., 1.],
           [2., 3.]])
    """
    points = np.stack([x, y])
    try:
        values = np.asarray(f(points), dtype=np.float64)
        if values.shape[-x.ndim:] == x.shape:
            return values
    except (TypeError, ValueError, IndexError):
        pass  # not vectorised: evaluate point by point below
    flat = [np.asarray(f(points[:, i, j]), dtype=np.float64)
            for i in range(x.shape[0]) for j in range(x.shape[1])]
    stacked = np.stack(flat, axis=-1)
    return stacked.reshape(*stacked.shape[:-1], *x.shape)


def _grid(xlim: Sequence[float], ylim: Sequence[float], n: int) -> tuple[np.ndarray, np.ndarray]:
    if len(xlim) != 2 or len(ylim) != 2 or xlim[0] >= xlim[1] or ylim[0] >= ylim[1]:
        raise ValueError(f"xlim and ylim must be (low, high) with low < high, got {xlim}, {ylim}")
    return np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))


def tangent_plane(f: Function2D, grad: Function2D, point: Sequence[float]) -> Function2D:
    r"""The tangent plane of ``z = f(x, y)`` at ``point``, as a function of ``q = (x, y)``.

    .. math:: z(q) = f(p) + \nabla f(p) \cdot (q - p)

    It works on grids like the functions it is built from.

    >>> plane = tangent_plane(lambda q: q[0] * q[1], lambda q: np.stack([q[1], q[0]]), [1.0, 2.0])
    >>> float(plane(np.array([1.5, 2.0])))
    3.0
    """
    p = as_float64(point, "point")
    if p.shape != (2,):
        raise ValueError(f"point must be (x, y), got shape {p.shape}")
    f0 = float(np.asarray(f(p)))
    g = as_float64(grad(p), "grad(point)")
    if g.shape != (2,):
        raise ValueError(f"grad(point) must have the shape of the point, (2,), got {g.shape}")

    def plane(q: np.ndarray) -> np.ndarray:
        return f0 + g[0] * (q[0] - p[0]) + g[1] * (q[1] - p[1])

    return plane


def surface(
    f: Function2D,
    xlim: Sequence[float] = (-2.0, 2.0),
    ylim: Sequence[float] = (-2.0, 2.0),
    ax: Axes | None = None,
    n: int = 40,
) -> Axes:
    """Draw the surface ``z = f(x, y)`` over a rectangle. ``ax`` must be a 3-D Axes if given."""
    if ax is None:
        ax = _pyplot().figure(figsize=(6, 5)).add_subplot(projection="3d")
    elif getattr(ax, "name", "") != "3d":
        raise ValueError("ax must be a 3-D Axes: create it with add_subplot(projection='3d')")
    X, Y = _grid(xlim, ylim, n)
    ax.plot_surface(X, Y, evaluate_on_grid(f, X, Y), cmap="viridis", alpha=0.75, linewidth=0,
                    antialiased=True)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_zlabel("$f(x, y)$")
    from matplotlib.ticker import MaxNLocator  # here, not at the top: keeps `import helpers` fast

    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(5))  # the default crowds the labels of 3-D axes
    return ax


def surface_with_tangent_plane(
    f: Function2D,
    grad: Function2D,
    point: Sequence[float],
    xlim: Sequence[float] = (-2.0, 2.0),
    ylim: Sequence[float] = (-2.0, 2.0),
    ax: Axes | None = None,
    n: int = 40,
    plane_halfwidth: float = 1.0,
) -> Axes:
    r"""Draw the surface ``z = f(x, y)`` and its tangent plane at ``point``.

    The plane is the first-order approximation
    :math:`z = f(p) + \nabla f(p) \cdot ((x, y) - p)`, drawn over a square of half-width
    ``plane_halfwidth`` around ``p``. ``ax`` must be a 3-D Axes if given.
    """
    plane = tangent_plane(f, grad, point)
    p = as_float64(point, "point")
    ax = surface(f, xlim, ylim, ax=ax, n=n)
    s = np.linspace(-plane_halfwidth, plane_halfwidth, 2)
    PX, PY = np.meshgrid(p[0] + s, p[1] + s)
    ax.plot_surface(PX, PY, plane(np.stack([PX, PY])), color="tab:orange", alpha=0.8,
                    edgecolor="darkorange", linewidth=1)
    ax.scatter([p[0]], [p[1]], [plane(p)], color="black", s=30, depthshade=False)
    return ax


def contour_with_gradients(
    f: Function2D,
    grad: Function2D | None,
    xlim: Sequence[float] = (-2.0, 2.0),
    ylim: Sequence[float] = (-2.0, 2.0),
    ax: Axes | None = None,
    levels: int = 15,
    arrows: int = 9,
    n: int = 200,
) -> Axes:
    """Draw level curves of ``f`` and its gradient as arrows on an ``arrows x arrows`` grid.

    The axes have equal scale, so the arrows are seen to cross the level curves at right
    angles, pointing uphill. ``arrows=0`` (or ``grad=None``) draws the level curves alone.
    """
    if ax is None:
        ax = _pyplot().figure(figsize=(5.5, 5)).add_subplot()
    X, Y = _grid(xlim, ylim, n)
    contours = ax.contour(X, Y, evaluate_on_grid(f, X, Y), levels=levels, cmap="viridis")
    ax.clabel(contours, inline=True, fontsize=9, fmt="%.2g")
    if grad is not None and arrows > 0:
        AX, AY = _grid(xlim, ylim, arrows)
        G = evaluate_on_grid(grad, AX, AY)
        ax.quiver(AX, AY, G[0], G[1], color="tab:red", angles="xy", width=0.005)
    ax.set_aspect("equal")
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    return ax


def error_loglog(
    sizes: Sequence[float],
    errors: Sequence[float],
    ax: Axes | None = None,
    reference_slope: float | None = 2.0,
    label: str = "error",
) -> Axes:
    """Plot ``errors`` against ``sizes`` on log-log axes, with the fitted slope in the legend.

    A dashed reference line of slope ``reference_slope`` runs a factor 4 below the smallest
    point, so an error that shrinks like ``size**p`` runs parallel to it, visibly apart, when
    ``p`` matches. The legend gets a band of its own above the data (30% more decades
    on top), so it covers no point or tick label.
    """
    h = as_float64(sizes, "sizes")
    err = as_float64(errors, "errors")
    slope = loglog_slope(h, err)
    if ax is None:
        ax = _pyplot().figure(figsize=(5.5, 4)).add_subplot()
    ax.loglog(h, err, "o-", label=f"{label} (fitted slope {slope:.2f})")
    if reference_slope is not None:
        i = int(np.argmin(h))
        ref = err[i] / 4 * (h / h[i]) ** reference_slope
        ax.loglog(h, ref, "--", color="gray", label=f"slope {reference_slope:g}")
    ax.set_xlabel("step size")
    ax.set_ylabel("absolute error")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * (high / low) ** 0.3)  # log axes: 30% more decades on top
    ax.legend(loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def plot_path(
    points: Any,
    ax: Axes | None = None,
    label: str | None = None,
    color: str | None = None,
    max_points: int = 200,
) -> Axes:
    """Draw a path of 2-D iterates (e.g. ``gradient_descent(...).points``) as dots and lines.

    The start is a square, the end a star. Paths longer than ``max_points`` are drawn up to
    that point (a diverging path leaves the picture long before).
    """
    pts = as_float64(points, "points")
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (k, 2), got {pts.shape}")
    pts = pts[:max_points]
    if ax is None:
        ax = _pyplot().figure(figsize=(5.5, 5)).add_subplot()
    (line,) = ax.plot(pts[:, 0], pts[:, 1], ".-", color=color, label=label, linewidth=1.2,
                      markersize=4)
    ax.plot(*pts[0], "s", color=line.get_color(), markersize=7)
    ax.plot(*pts[-1], "*", color=line.get_color(), markersize=12)
    return ax
