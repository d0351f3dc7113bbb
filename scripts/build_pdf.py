"""Print the built website into one PDF of the whole book: _build/html/mvc4ml.pdf.

Jupyter Book 1 offers two PDF routes: LaTeX (a TeX Live of about a gigabyte, and every
executed output re-typeset by LaTeX) and "pdfhtml", which prints the HTML pages with a
headless Chromium that pyppeteer downloads (this machine has no network for that). This
script takes the second route with the Chromium the browser tests already use (Debian's,
driven by Playwright): each page of _toc.yml, as built, is printed by the browser (the
site's print stylesheet wraps code and outputs at the margin and leaves out the controls),
and the pages are joined with pypdf into one file with a bookmark per page. So the PDF shows
exactly what the website shows: the same MathJax formulas, figures, captions and numbers.

Links between pages would point at the local server that printed them: they are turned
into plain text first. Links within a page stay, as links inside the PDF.

    python scripts/build_pdf.py [SITE]     # SITE: a built website, _build/html by default

`make book` runs it after the HTML build; it prints again only when a page is newer than
the PDF (a build that changed nothing costs nothing).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.site_server import HTML, WAIT_FOR_MATH_AND_IMAGES, chromium, serve, toc_pages

PDF_NAME = "mvc4ml.pdf"  # intro.md links to it
TITLE = "Multivariable Calculus for Machine Learning"
FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">'
          '<span class="title"></span> &middot; <span class="pageNumber"></span></div>')

# Links to another page of the book, or to the server, become text; '#...' links stay.
UNLINK_OTHER_PAGES = """() => document.querySelectorAll('a[href]').forEach(a => {
    const href = a.getAttribute('href');
    if (!href.startsWith('#') && new URL(a.href).origin === location.origin) {
        a.removeAttribute('href'); } })"""


def print_page(browser, url: str) -> tuple[bytes, str]:
    """One page as PDF bytes, and its title."""
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    try:
        page.emulate_media(media="print", color_scheme="light")
        page.goto(url, wait_until="load")
        page.evaluate(WAIT_FOR_MATH_AND_IMAGES)
        page.evaluate(UNLINK_OTHER_PAGES)
        title = page.evaluate("() => document.querySelector('.bd-content h1')"
                              "?.innerText.replace(/#$/, '').trim() ?? document.title")
        pdf = page.pdf(format="A4", print_background=True, display_header_footer=True,
                       header_template="<span></span>", footer_template=FOOTER,
                       margin={"top": "18mm", "bottom": "18mm", "left": "16mm",
                               "right": "16mm"})
        return pdf, title
    finally:
        page.close()


def main() -> int:
    from pypdf import PdfReader, PdfWriter

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site", nargs="?", type=Path, default=HTML)
    site_dir = parser.parse_args().site
    pdf_path = site_dir / PDF_NAME
    pages = [site_dir / name for name in toc_pages()]
    if pdf_path.exists() and all(p.stat().st_mtime < pdf_path.stat().st_mtime for p in pages):
        print(f"{pdf_path} is up to date")
        return 0
    start = time.perf_counter()
    writer = PdfWriter()
    with serve(site_dir) as site, chromium() as browser:
        for name in toc_pages():
            pdf, title = print_page(browser, f"{site}/{name}")
            first_page = len(writer.pages)
            writer.append(PdfReader(io.BytesIO(pdf)))
            writer.add_outline_item(title=title, page_number=first_page)
    writer.add_metadata({"/Title": TITLE})
    writer.compress_identical_objects()
    with open(pdf_path, "wb") as out:
        writer.write(out)
    print(f"wrote {pdf_path}: {len(writer.pages)} pages, {pdf_path.stat().st_size / 1e6:.1f} MB, "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
