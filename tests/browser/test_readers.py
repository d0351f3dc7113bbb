"""Every page as its readers meet it: on a desktop and on a phone, in light and dark mode, with
a screen reader (axe-core's rules), and through the phone menu and the search box.

Screenshots of each page at each size and mode go to test-artifacts/screenshots/readers/.
axe-core comes from npm (package.json, package-lock.json; `make node_modules`).
"""

from __future__ import annotations

import re

import pytest

from tests.site_server import ROOT, axe_violations, open_page, toc_pages

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots" / "readers"
PAGES = toc_pages()
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
# TeX that escaped typesetting: a command (\frac, \nabla, ...), a math delimiter, or a
# $...$ pair around TeX-looking text.
RAW_TEX = re.compile(r"\\[A-Za-z]{2,}|\\[()\[\]]|\$\$|\$[^$\s][^$]*[\\^_{}][^$]*\$")


# Each image's displayed content box against its natural size.
IMAGE_SHAPES = """() => Array.from(document.querySelectorAll('.bd-content img'))
    .filter(img => img.offsetParent !== null && img.naturalWidth > 0)
    .map(img => { const s = getComputedStyle(img);
        const w = img.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
        const h = img.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom);
        return {src: img.src.slice(-40), alt: img.alt, shown: w / h,
                natural: img.naturalWidth / img.naturalHeight}; })"""

# Boxes that are wider than their content area and neither scroll nor clip: what a reader
# cannot see. A page wider than the viewport is reported as the page.
HIDDEN_OVERFLOW = """() => {
    const out = [];
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
        out.push(`page: ${document.documentElement.scrollWidth}px in ${window.innerWidth}px`);
    }
    for (const el of document.querySelectorAll(
            '.bd-content div.math, .bd-content pre, .bd-content table, .bd-content figure')) {
        if (el.offsetParent === null || el.scrollWidth <= el.clientWidth + 1) continue;
        const scrolls = ['auto', 'scroll'].includes(getComputedStyle(el).overflowX)
            || el.closest('.table-wrapper, .pst-scrollable-table-container');
        if (!scrolls) out.push(`${el.tagName}.${el.className}: ` +
                               `${el.scrollWidth}px in ${el.clientWidth}px`);
    }
    // an inline formula cannot wrap: past the screen's edge it must be a box that scrolls
    for (const el of document.querySelectorAll(
            '.bd-content mjx-container:not([display="true"])')) {
        const scrollingBox = 'div.math, pre, .table-wrapper, .pst-scrollable-table-container';
        if (el.offsetParent === null || el.closest(scrollingBox)) continue;
        const right = el.getBoundingClientRect().right;
        if (right > window.innerWidth + 1 && getComputedStyle(el).overflowX !== 'auto') {
            out.push(`inline formula ending at ${Math.round(right)}px: ` +
                     el.textContent.slice(0, 40));
        }
    }
    return out; }"""

# The reader-visible text of the article: prose, theorem blocks, captions and outputs;
# code, and math that MathJax typeset, are left out.
VISIBLE_TEXT = """() => { const main = document.querySelector('.bd-content').cloneNode(true);
    main.querySelectorAll('div.cell_input, div.highlight, code, script, style, ' +
        'mjx-container, mjx-assistive-mml').forEach(el => el.remove());
    return main.innerText; }"""


# Light at both sizes; dark, whose checks are about colour (contrast) rather than layout,
# at the phone's size only.
READINGS = [("desktop", "light"), ("phone", "light"), ("phone", "dark")]


@pytest.mark.parametrize(("size", "scheme"), READINGS)
@pytest.mark.parametrize("name", PAGES)
def test_page_as_a_reader_meets_it(browser, site_url, name, size, scheme):
    context, page, _ = open_page(browser, f"{site_url}/{name}", SIZES[size], scheme)
    try:
        if scheme == "light":  # a full-page screenshot costs as much as the checks below;
            # the dark scheme is checked (contrast included) but not pictured
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name.replace('/', '__')}-{size}.png"),
                            full_page=True)

        distorted = [i for i in page.evaluate(IMAGE_SHAPES)
                     if abs(i["shown"] / i["natural"] - 1) > 0.02]
        assert distorted == [], f"figures shown at another aspect ratio: {distorted}"

        assert page.evaluate(HIDDEN_OVERFLOW) == [], "content wider than its box, not scrolling"

        text = page.evaluate(VISIBLE_TEXT)
        leaks = sorted({m.group(0) for m in RAW_TEX.finditer(text)})
        assert leaks == [], f"raw TeX in the text: {leaks[:5]}"

        alts = page.evaluate("() => Array.from(document.images).map(img => img.alt)")
        paths = [a for a in alts if re.search(r"(^|/)_images/|\.(png|jpe?g|svg|webp)$", a)]
        assert paths == [] and "" not in alts, f"alt text missing or a file path: {alts}"

        assert axe_violations(page) == []
    finally:
        context.close()


def chapter_titles(page) -> list[str]:
    """The chapter links a reader can see now: shown, and inside the viewport."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        'nav.bd-docs-nav a.reference')).filter(a => {
            const box = a.getBoundingClientRect();
            return a.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})
                && box.width > 0 && box.right > 0 && box.left < window.innerWidth; })
        .map(a => a.getAttribute('href'))""")


@pytest.mark.parametrize("width", [390, 800, 1366])
def test_the_menu_buttons_open_and_close_the_sidebars(browser, site_url, width):
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{site_url}/chapters/03_chain_rule.html", wait_until="load")
        toggle = page.locator(".primary-toggle:visible").first
        before = len(chapter_titles(page))
        toggle.click()
        page.wait_for_timeout(400)  # the drawer's transition
        shown = chapter_titles(page)
        # at every width the button changes what is shown: opens the drawer or the column
        opened = len(shown) > before
        if not opened:  # a wide screen shows the column at first: the button hides it
            assert before > 0 and len(shown) == 0, (width, before, shown)
        else:
            for chapter in [p for p in PAGES if p.startswith("chapters/")]:
                assert any(href.endswith(chapter.split("/")[-1]) for href in shown), chapter
            page.keyboard.press("Escape") if page.locator("dialog[open]").count() else \
                toggle.click()
            page.wait_for_timeout(400)
            assert len(chapter_titles(page)) == before
        contents = page.locator(".secondary-toggle:visible")
        if contents.count():
            contents.first.click()
            page.wait_for_timeout(400)
            entries = page.locator("dialog[open] nav.page-toc a:visible, "
                                   ".bd-sidebar-secondary nav.page-toc a:visible")
            assert entries.count() >= 3, "the page contents did not open"
    finally:
        context.close()


@pytest.mark.parametrize("query", ["gradient", "hessian", "chain rule"])
def test_search_snippets_read_as_text(browser, site_url, query):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{site_url}/search.html?q={query}", wait_until="load")
        page.wait_for_selector("#search-results p.context", timeout=15000)
        page.wait_for_timeout(1500)  # every result's snippet is fetched one by one
        snippets = page.locator("#search-results p.context").all_inner_texts()
        assert snippets
        # a code snippet may print "\n"; a backslash anywhere else is TeX left raw
        leaks = [s for s in snippets
                 if RAW_TEX.search(s) or "\\" in re.sub(r"\\[nt](?![A-Za-z])", "", s)]
        assert leaks == [], leaks[:3]
    finally:
        context.close()


def test_screenshots_are_written():
    """Every page at both sizes, for a person to look at (test-artifacts/screenshots)."""
    shots = {p.name for p in SCREENSHOTS.glob("*.png")}
    expected = {f"{name.replace('/', '__')}-{size}.png" for name in PAGES for size in SIZES}
    assert expected <= shots, sorted(expected - shots)[:3]
