"""The book both ways: as built now, with the placeholder repository URL (no button may lead
to a repository that does not exist), and as published, with a real one (launch buttons on
every notebook page, opening its .ipynb twin). And the whole-book PDF that `make book`
prints from the website.
"""

from __future__ import annotations

import re
import subprocess
import sys

import yaml
from bs4 import BeautifulSoup
from pypdf import PdfReader

from scripts.generated import config_with_absolute_paths
from tests.site_server import HTML, ROOT, published, toc_pages

LAUNCH_HOSTS = ("colab.research.google.com", "mybinder.org")
PUBLISHED_URL = "https://github.com/example-author/mvc4ml"


def links(html_file) -> list[str]:
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    return [a["href"] for a in soup.find_all("a", href=True)]


def test_the_placeholder_url_leaves_out_every_repository_and_launch_button():
    if published():
        return  # published: tests/browser/test_pages.py checks the buttons
    for name in toc_pages():
        found = links(HTML / name)
        assert not [lk for lk in found if "your-org" in lk], name
        assert not [lk for lk in found if any(host in lk for host in LAUNCH_HOSTS)], name


def test_a_real_repository_url_brings_the_buttons_back(tmp_path):
    """A build of the book with a real repository URL (from the execution cache)."""
    config = config_with_absolute_paths()
    config["repository"]["url"] = PUBLISHED_URL
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_book.py"), str(ROOT), "-n", "-W",
         "--keep-going", "--config", str(tmp_path / "_config.yml"), "--path-output",
         str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "is a placeholder" not in result.stdout
    site = tmp_path / "_build" / "html"
    chapter = links(site / "chapters" / "02_gradient_descent.html")
    assert PUBLISHED_URL in chapter
    colab = [lk for lk in chapter if "colab.research.google.com" in lk]
    assert colab and colab[0].endswith("example-author/mvc4ml/blob/main/"
                                       "chapters/02_gradient_descent.ipynb"), colab
    solution = links(site / "solutions" / "02_gradient_descent.html")
    assert any(lk.endswith("exercises/02_gradient_descent.ipynb") for lk in solution)


def test_the_pdf_holds_every_page_and_the_numbers_the_build_computed():
    pdf = HTML / "mvc4ml.pdf"
    assert pdf.is_file(), "no PDF: `make book` prints it (scripts/build_pdf.py)"
    reader = PdfReader(pdf)
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", " ", text)
    bookmarks = [item.title for item in reader.outline]
    for name in toc_pages():
        soup = BeautifulSoup((HTML / name).read_text(encoding="utf-8"), "html.parser")
        title = soup.select_one(".bd-content h1").get_text(" ", strip=True).rstrip("#").strip()
        assert title in bookmarks, (name, bookmarks)
        assert re.sub(r"\s+", " ", title) in flat, f"{title} is not in the PDF's text"
        for number in soup.select(".pasted-text")[:3]:  # glued: computed by the build
            assert number.get_text(strip=True) in flat, (name, number.get_text())
    assert len(reader.pages) > 5 * len(toc_pages()) // 2


def test_notebooks_number_figures_and_equations_as_the_website_does():
    from scripts.make_notebooks import figure_and_equation_numbers

    expected = figure_and_equation_numbers()
    shown = {}
    for name in toc_pages():
        soup = BeautifulSoup((HTML / name).read_text(encoding="utf-8"), "html.parser")
        for figure in soup.select("figure[id]"):
            number = figure.select_one(".caption-number")
            if number:
                shown[figure["id"]] = number.get_text(strip=True).removeprefix("Figure ")
        for math in soup.select("div.math[id^=equation-]"):
            shown[math["id"].removeprefix("equation-")] = \
                math.select_one(".eqno").get_text(strip=True).strip("()#")
    assert expected and shown == expected
