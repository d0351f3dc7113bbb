"""Checks of the website that `make book` built into _build/html.

These read the executed pages, so each number the text promises is asserted where a reader
sees it.
"""

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

HTML = Path(__file__).resolve().parents[2] / "_build" / "html"
PAGES = ["intro.html", "notation.html", "chapters/01_partial_derivatives.html"]


@pytest.fixture(scope="module", autouse=True)
def _built_site():
    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML} has no built book: run `make book` first (or `make test`)")


def page(name: str) -> BeautifulSoup:
    return BeautifulSoup((HTML / name).read_text(encoding="utf-8"), "html.parser")


def text_of(name: str) -> str:
    return page(name).get_text(" ")


@pytest.mark.parametrize("name", PAGES)
def test_page_exists_without_stderr_or_error_output(name):
    soup = page(name)
    assert soup.select("div.output.stderr") == []
    assert soup.select("div.output.traceback") == []
    assert "Traceback" not in soup.get_text()


@pytest.mark.parametrize("name", PAGES)
def test_every_image_is_shipped_and_not_empty(name):
    for img in page(name).find_all("img"):
        src = img["src"]
        if src.startswith(("http:", "https:", "data:")):
            continue
        target = (HTML / name).parent / src
        assert target.is_file() and target.stat().st_size > 1000, f"{name}: missing image {src}"


def test_no_page_loads_widget_scripts_from_a_cdn():
    for html in HTML.rglob("*.html"):
        source = html.read_text(encoding="utf-8")
        assert "html-manager" not in source and "require.min.js" not in source, html


def test_chapter_1_shows_the_worked_example():
    text = text_of("chapters/01_partial_derivatives.html")
    # CURRICULUM.md: the estimate is 1.0819456220..., the true value 1.0821241818...
    assert "1.0819456220" in text
    assert re.search(r"1\.08212418(18|19)", text)


def test_chapter_1_measures_slope_2():
    text = text_of("chapters/01_partial_derivatives.html")
    slopes = [float(s) for s in re.findall(r"fitted slope:? (\d\.\d+)", text)]
    assert slopes, "no fitted slope on the page"
    assert all(abs(s - 2) < 0.05 for s in slopes), slopes


def test_chapter_1_has_its_figures():
    soup = page("chapters/01_partial_derivatives.html")
    # surface + tangent plane, log-log error, contour with gradients, two explorer snapshots
    assert len(soup.select("div.cell_output img")) >= 5


def test_chapter_1_autodiff_agrees_with_the_hand_derived_gradient():
    text = text_of("chapters/01_partial_derivatives.html")
    match = re.search(r"PyTorch autograd: \[([\d.]+) +([\d.]+)\]", text)
    assert match, "PyTorch output missing"
    assert float(match[1]) == pytest.approx(1 / 3) and float(match[2]) == pytest.approx(2 / 3)


def test_notation_page_shows_float32_wrong_and_float64_right():
    text = text_of("notation.html")
    errors = dict(re.findall(r"(float32|float64): estimate [\d.]+, relative error ([\d.e+-]+)",
                             text))
    assert float(errors["float32"]) > 1e-2  # wrong in the second digit
    assert float(errors["float64"]) < 1e-8
