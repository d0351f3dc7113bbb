"""Multi-panel figures that hold on a phone: one image per panel, laid out by the browser.

A figure with panels side by side is wide; shrunk to a phone's column its titles and tick
labels end up 3 to 5 pixels tall. :class:`Panels` shows each panel (an Axes with its title,
labels and ticks, cropped from the finished figure) as its own image in a wrapping row: side
by side where the column is wide enough, one above the other on a phone, each large enough
to read. The same markup shows in Jupyter, where it needs no book stylesheet.

Images are WebP (lossy, quality 90) at 1.5x the figure's size: sharp on high-density
screens and when zoomed, at a fifth of a PNG's bytes for the dense surface plots, which
matters where an explorer carries a dozen of them inline. Every browser the book supports
shows WebP, and matplotlib writes it through Pillow, which it already depends on.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Panel", "Panels", "panel_images"]

SCALE = 1.5           # image pixels per CSS pixel
CSS_DPI = 100         # CSS pixels per figure inch, as Jupyter shows a figure
QUALITY = 90          # WebP quality: no visible artefacts on lines or text at 1.5x
PAD_INCHES = 0.06     # white margin kept around each panel's crop
MIN_WIDTH = "17rem"   # a panel narrower than this goes to a row of its own


class Panel:
    """One panel's image: WebP bytes, its size in CSS pixels and its alt text."""

    def __init__(self, webp: bytes, width: int, height: int, alt: str):
        self.webp, self.width, self.height, self.alt = webp, width, height, alt

    def img(self) -> str:
        data = base64.b64encode(self.webp).decode("ascii")
        return (f'<img src="data:image/webp;base64,{data}" alt="{html.escape(self.alt)}" '
                f'width="{self.width}" height="{self.height}" '
                # shares a row with its neighbours, never wider than drawn (a lone last panel
                # would otherwise stretch across the whole column)
                f'style="flex:1 1 0;min-width:min(100%,{MIN_WIDTH});'
                f'max-width:min(100%,{self.width}px);height:auto">')


def panel_images(fig: Figure, alt: Sequence[str]) -> list[Panel]:
    """Each Axes of ``fig`` cropped to its own image (title, labels and ticks included).

    ``alt`` says what each panel shows, one text per Axes in the order of ``fig.axes``.
    """
    if len(alt) != len(fig.axes):
        raise ValueError(f"the figure has {len(fig.axes)} panels but {len(alt)} alt texts "
                         "were given: describe each panel, in the order of fig.axes")
    if any(not text.strip() for text in alt):
        raise ValueError("an alt text is empty: say what the panel shows")
    fig.draw_without_rendering()  # runs the layout engine, so the crops see final positions
    inches = fig.dpi_scale_trans.inverted()
    panels = []
    for ax, text in zip(fig.axes, alt, strict=True):
        box = ax.get_tightbbox().transformed(inches).padded(PAD_INCHES)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="webp", dpi=CSS_DPI * SCALE, bbox_inches=box,
                    pil_kwargs={"quality": QUALITY})
        panels.append(Panel(buffer.getvalue(), round(box.width * CSS_DPI),
                            round(box.height * CSS_DPI), text))
    return panels


def close_if_pyplot(fig: Figure) -> None:
    """Close a figure pyplot tracks, so Jupyter does not show it a second time."""
    from helpers.plotting import _pyplot

    plt = _pyplot()
    if plt.fignum_exists(getattr(fig, "number", -1)):
        plt.close(fig)


def panels_markup(panels: Sequence[Panel], hidden: bool = False, css_class: str = "") -> str:
    """A wrapping row of panel images (a flex box; rows keep each image's aspect ratio)."""
    images = "".join(panel.img() for panel in panels)
    # `hidden` needs display:none inline too: the inline display:flex would override it
    return (f'<div class="figure-panels {css_class}"{" hidden" if hidden else ""} '
            f'style="display:{"none" if hidden else "flex"};flex-wrap:wrap;'
            f'align-items:flex-start;gap:0.5rem">{images}</div>')


class Panels:
    """Show a multi-panel figure as one image per panel (see the module's docstring).

    ``Panels(fig, alt=["what panel 1 shows", ...])`` as the last line of a cell; the figure
    is closed, so it is not shown a second time whole.
    """

    def __init__(self, fig: Figure, alt: Sequence[str]):
        self.panels = panel_images(fig, alt)
        close_if_pyplot(fig)

    def _repr_html_(self) -> str:
        return panels_markup(self.panels)

    def __repr__(self) -> str:
        return f"<Panels: {len(self.panels)} images: " + "; ".join(p.alt for p in self.panels) + ">"
