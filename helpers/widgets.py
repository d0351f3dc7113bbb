"""Interactive explorers: ipywidgets controls live in Jupyter, plain figures everywhere else.

Each explorer draws with ordinary plotting functions (``ax=None`` in, Axes out), so the book
can show a static figure of any state on the website, where widget callbacks have no kernel.
``ipywidgets`` is imported only when an explorer is displayed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from helpers.calculus import as_float64
from helpers.figures import close_if_pyplot, panel_images, panels_markup
from helpers.optimize import DescentPath, gradient_descent
from helpers.plotting import Function2D, _pyplot, contour_with_gradients, plot_path

# Set by the book's build (scripts/build_book.py): explorers display a static figure instead of
# live ipywidgets. A static page has no kernel to drive them and their saved state only weighs
# the page down; and with ipykernel 7.4.0, a widget displayed while the build executed chapter
# 1 left the next cell waiting for the whole 120 s cell timeout (3 builds of 3).
STATIC_ENV = "HELPERS_STATIC_EXPLORERS"

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "Explorer",
    "FrameScrubber",
    "GradientDescentExplorer",
    "LinearApproximationExplorer",
    "plot_linear_approximation_slice",
    "plot_step_on_contours",
]


def _point_and_step(point: Sequence[float], step: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = as_float64(point, "point")
    e = as_float64(step, "step")
    if p.shape != (2,) or e.shape != (2,):
        raise ValueError(f"point and step must both be (x, y) pairs, got {p.shape} and {e.shape}")
    return p, e


def plot_linear_approximation_slice(
    f: Function2D, grad: Function2D, point: Sequence[float], step: Sequence[float],
    ax: Axes | None = None,
) -> Axes:
    r"""Compare ``f`` with its linear approximation along the line through ``point`` in ``step``.

    Plots :math:`s \mapsto f(p + s e)` and :math:`s \mapsto f(p) + s\, e \cdot \nabla f(p)` for
    ``s`` in [-1.5, 1.5], and marks the true and approximate values at the step itself (s = 1),
    with the error in the title.
    """
    p, e = _point_and_step(point, step)
    if ax is None:
        ax = _pyplot().figure(figsize=(5.5, 4)).add_subplot()
    s = np.linspace(-1.5, 1.5, 201)
    true_values = np.array([float(np.asarray(f(p + si * e))) for si in s])
    f0 = float(np.asarray(f(p)))
    slope = float(np.dot(e, as_float64(grad(p), "grad(point)")))
    ax.plot(s, true_values, label=r"$f(p + s\,e)$")
    ax.plot(s, f0 + slope * s, "--", label=r"$f(p) + s\,e\cdot\nabla f(p)$")
    exact, approx = float(np.asarray(f(p + e))), f0 + slope
    ax.plot([1, 1], [exact, approx], "o", color="black")
    ax.set_title(f"at the step: f = {exact:.4f}, linear = {approx:.4f}\n"
                 f"error = {abs(exact - approx):.2e}")
    ax.set_xlabel(r"$s$ (multiples of the step $\epsilon$)")
    ax.legend()
    return ax


def plot_step_on_contours(
    f: Function2D, grad: Function2D, point: Sequence[float], step: Sequence[float],
    xlim: Sequence[float] = (-2.0, 2.0), ylim: Sequence[float] = (-2.0, 2.0),
    ax: Axes | None = None,
) -> Axes:
    """Contours and gradient field of ``f``, with the point and the step drawn on top."""
    p, e = _point_and_step(point, step)
    ax = contour_with_gradients(f, grad, xlim, ylim, ax=ax, arrows=7, n=120)
    ax.plot(*p, "ko")
    ax.annotate("", xy=p + e, xytext=p,
                arrowprops={"arrowstyle": "->", "color": "black", "linewidth": 2})
    return ax


class FrameScrubber:
    """Precomputed frames of a figure with a slider to move between them, no kernel needed.

    On a static web page ipywidgets are dead (no Python runs behind the page), so each
    explorer of the book also renders a few settings ahead of time; this object shows them
    with an HTML range slider that switches between them, using a few lines of inline
    JavaScript. It displays the same way in Jupyter. Each frame is shown panel by panel
    (helpers.figures), so on a phone the panels stack and stay as legible as a static figure.

    ``make_figure(value)`` draws one frame and returns a matplotlib Figure; ``alt`` says what
    each of its panels shows (one text per Axes), and each image's alt text adds the value.
    """

    def __init__(self, make_figure: Callable[[float], Figure], values: Sequence[float],
                 label: str, alt: Sequence[str], start: int = 0, fmt: str = "{:g}"):
        if not values:
            raise ValueError("a scrubber needs at least one value")
        if not 0 <= start < len(values):
            raise ValueError(f"start must index values (0 to {len(values) - 1}), got {start}")
        self.values, self.label, self.start = list(values), label, start
        self.labels = [fmt.format(v) for v in self.values]
        self.frames = []
        for value, shown in zip(self.values, self.labels, strict=True):
            fig = make_figure(value)
            self.frames.append(panel_images(fig, [f"{text}, at {label} = {shown}" for text in alt]))
            close_if_pyplot(fig)  # a pyplot figure would otherwise show again under the slider

    def _repr_html_(self) -> str:
        import html
        import json

        labels = html.escape(json.dumps(self.labels))
        frames = "".join(panels_markup(frame, hidden=i != self.start, css_class="frame")
                         for i, frame in enumerate(self.frames))
        # Inline handler: show the frame whose index the slider holds, and its value.
        handler = ("const box=this.closest('.frame-scrubber');"
                   "box.querySelectorAll('.frame').forEach((f,i)=>{f.hidden=(i!=this.value);"
                   "f.style.display=f.hidden?'none':'flex';});"
                   "box.querySelector('output').textContent="
                   "JSON.parse(box.dataset.labels)[this.value];")
        return (f'<div class="frame-scrubber" data-labels="{labels}">'
                '<label style="display:flex;flex-wrap:wrap;align-items:center;gap:0.5rem">'
                f'{html.escape(self.label)}: '
                f'<input type="range" min="0" max="{len(self.frames) - 1}" step="1" '
                f'value="{self.start}" aria-label="{html.escape(self.label)}" '
                # JupyterLab would otherwise read the slider's arrow keys as notebook
                # shortcuts (left arrow collapses the heading above)
                'data-lm-suppress-shortcuts="true" '
                # a finger-sized target on a touch screen
                f'oninput="{handler}" style="flex:1 1 12rem;min-height:2.75rem"> '
                f"<output>{html.escape(self.labels[self.start])}</output></label>"
                f"{frames}</div>")


class Explorer:
    """An interactive figure: ipywidgets sliders in Jupyter, a static figure anywhere.

    A subclass keeps its settings in ``self.state`` (a dict), says which sliders drive which
    setting in :meth:`controls`, and draws a state in :meth:`draw`. :meth:`figure` draws the
    current state into a new figure that pyplot does not track, for static pages.
    """

    figsize: tuple[float, float] = (10, 4.2)
    panel_alt: tuple[str, ...] = ()  # what each panel of the figure shows (frames' alt text)

    def __init__(self, **state: float):
        self.state = dict(state)

    def controls(self) -> dict:
        """Map each key of ``self.state`` that a slider drives to that ipywidgets slider."""
        raise NotImplementedError

    def _point_sliders(self, what: str) -> dict:
        """Sliders for state["x"] and state["y"] over the explorer's xlim and ylim."""
        import ipywidgets as widgets

        return {key: widgets.FloatSlider(value=self.state[key], min=lim[0], max=lim[1],
                                         step=0.05, description=f"{what} {key}")
                for key, lim in (("x", self.xlim), ("y", self.ylim))}

    def draw(self, fig: Figure) -> None:
        """Draw the current state into ``fig``."""
        raise NotImplementedError

    def figure(self) -> Figure:
        """A new figure (not registered with pyplot) showing the current state."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.figsize, layout="constrained")
        self.draw(fig)
        return fig

    def widget(self):
        """The ipywidgets interface: the sliders, two to a row, above a live figure."""
        import ipywidgets as widgets
        from IPython.display import display

        sliders = self.controls()
        # Redraw when a slider is released, not at every step of a drag: a redraw takes a
        # few tenths of a second, so per-step redraws queue up and the figure lags behind.
        # The slider's own readout still follows the drag.
        for slider in sliders.values():
            slider.continuous_update = False
        output = widgets.Output()

        def redraw(**values: float) -> None:
            self.state.update(values)
            with output:
                output.clear_output(wait=True)
                display(self.figure())

        widgets.interactive_output(redraw, sliders)
        row = list(sliders.values())
        return widgets.VBox([widgets.HBox(row[i:i + 2]) for i in range(0, len(row), 2)]
                            + [output])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if os.environ.get(STATIC_ENV):
            display(self.figure())  # a page built for the web: no kernel will drive sliders
        else:
            display(self.widget())

    def scrubber(self, key: str, values: Sequence[float], label: str | None = None,
                 **options) -> FrameScrubber:
        """Frames of this explorer for each value of ``state[key]``, with a slider.

        This is the explorer on a static page: the other settings stay as they are.
        """
        if key not in self.state:
            raise KeyError(f"{key!r} is not a setting of this explorer: {sorted(self.state)}")
        saved = self.state[key]

        def frame(value: float) -> Figure:
            self.state[key] = value
            return self.figure()

        try:
            return FrameScrubber(frame, values, label or key, alt=self.panel_alt, **options)
        finally:
            self.state[key] = saved


class LinearApproximationExplorer(Explorer):
    """Move a point and a step; see the linear approximation of ``f`` and its error.

    The sliders set the point (x and y), the step's length and its angle in degrees.
    """

    panel_alt = ("Contour plot of f with the point, its gradient and the step drawn as arrows",
                 "f and its linear approximation along the line of the step, with the "
                 "error at the end of the step marked")

    def __init__(self, f: Function2D, grad: Function2D, point: Sequence[float] = (0.0, 0.0),
                 step_length: float = 0.5, step_angle: float = -60.0,
                 xlim: Sequence[float] = (-2.0, 2.0), ylim: Sequence[float] = (-2.0, 2.0)):
        p = as_float64(point, "point")
        super().__init__(x=float(p[0]), y=float(p[1]), length=float(step_length),
                         angle=float(step_angle))
        self.f, self.grad = f, grad
        self.xlim, self.ylim = tuple(xlim), tuple(ylim)

    def step(self) -> np.ndarray:
        """The step vector of the current state (length and angle in degrees)."""
        angle = np.deg2rad(self.state["angle"])
        return self.state["length"] * np.array([np.cos(angle), np.sin(angle)])

    def controls(self) -> dict:
        import ipywidgets as widgets

        return {
            **self._point_sliders("point"),
            "length": widgets.FloatLogSlider(value=self.state["length"], base=10, min=-3,
                                             max=0.3, step=0.05, description="‖ε‖₂"),
            "angle": widgets.FloatSlider(value=self.state["angle"], min=-180, max=180, step=5,
                                         description="angle (deg)"),
        }

    def draw(self, fig: Figure) -> None:
        left, right = fig.subplots(1, 2)
        point = (self.state["x"], self.state["y"])
        plot_step_on_contours(self.f, self.grad, point, self.step(), self.xlim, self.ylim,
                              ax=left)
        plot_linear_approximation_slice(self.f, self.grad, point, self.step(), ax=right)


class GradientDescentExplorer(Explorer):
    """Choose the step size and the start point; watch the gradient-descent path.

    Left: the path on the contour plot of ``f``. Right: the loss against the step number.
    """

    panel_alt = ("Contour plot of f with the gradient-descent path from the start point",
                 "The loss at each step of gradient descent, on a logarithmic scale")

    figsize = (10, 4.4)

    def __init__(self, f: Function2D, grad: Function2D, start: Sequence[float] = (-1.5, 1.0),
                 step_size: float = 0.1, max_steps: int = 50,
                 xlim: Sequence[float] = (-2.0, 2.0), ylim: Sequence[float] = (-2.0, 2.0)):
        p = as_float64(start, "start")
        super().__init__(x=float(p[0]), y=float(p[1]), step_size=float(step_size),
                         max_steps=int(max_steps))
        self.f, self.grad = f, grad
        self.xlim, self.ylim = tuple(xlim), tuple(ylim)

    def path(self) -> DescentPath:
        """Run gradient descent from the current start with the current step size."""
        return gradient_descent(self.f, self.grad, [self.state["x"], self.state["y"]],
                                self.state["step_size"], max_steps=int(self.state["max_steps"]))

    def controls(self) -> dict:
        import ipywidgets as widgets

        return {
            **self._point_sliders("start"),
            "step_size": widgets.FloatLogSlider(value=self.state["step_size"], base=10, min=-3,
                                                max=0.5, step=0.02, description="step size η"),
            "max_steps": widgets.IntSlider(value=self.state["max_steps"], min=1, max=200,
                                           description="steps"),
        }

    def draw(self, fig: Figure) -> None:
        left, right = fig.subplots(1, 2)
        path = self.path()
        contour_with_gradients(self.f, None, self.xlim, self.ylim, ax=left, n=120)
        plot_path(path.points, ax=left)
        left.set_xlim(self.xlim)
        left.set_ylim(self.ylim)
        left.set_title(f"η = {self.state['step_size']:.3g}: {path.status} after "
                       f"{path.steps} steps")
        right.semilogy(np.arange(len(path.values)), np.abs(path.values) + 1e-300, ".-")
        right.set_xlabel("step")
        right.set_ylabel("|loss|")
        right.grid(True, alpha=0.3)
