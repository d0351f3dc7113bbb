"""helpers.Panels: a multi-panel figure as one image per panel, for narrow screens."""

import io

import matplotlib.pyplot as plt
import pytest
from PIL import Image

import helpers
from helpers.figures import SCALE, panel_images


def three_panels():
    fig, axes = plt.subplots(1, 3, figsize=(9, 3), layout="constrained")
    for k, ax in enumerate(axes):
        ax.plot([0, 1], [0, k])
        ax.set_title(f"panel {k}")
    return fig


def test_each_axes_becomes_an_image_of_its_own_with_its_alt_text():
    fig = three_panels()
    panels = panel_images(fig, ["first", "second", "third"])
    assert [p.alt for p in panels] == ["first", "second", "third"]
    for panel in panels:
        image = Image.open(io.BytesIO(panel.webp))
        assert image.format == "WEBP"
        # a third of the figure each (plus a margin), drawn at SCALE x its CSS size
        assert 2.5 <= image.width / (100 * SCALE) <= 3.6
        assert abs(image.width / SCALE - panel.width) <= 1
        assert abs(image.width / image.height - panel.width / panel.height) < 0.02


def test_panels_close_the_pyplot_figure_and_render_a_wrapping_row():
    fig = three_panels()
    shown = helpers.Panels(fig, alt=["a", "b", "c"])
    assert not plt.fignum_exists(fig.number)  # not shown a second time, whole
    markup = shown._repr_html_()
    assert markup.count("<img ") == 3 and "flex-wrap:wrap" in markup
    assert "align-items:flex-start" in markup  # a row must not stretch images out of shape
    assert 'alt="b"' in markup


@pytest.mark.parametrize("alt", [["only one"], ["a", "b", " "]])
def test_every_panel_needs_an_alt_text(alt):
    with pytest.raises(ValueError, match="alt"):
        panel_images(three_panels(), alt)


def test_the_book_style_sizes_text_for_a_phone():
    import matplotlib

    with plt.style.context(helpers.BOOK_STYLE):
        assert matplotlib.rcParams["font.size"] >= 12
