"""Every page of the built book, in a real headless Chromium, as a reader meets it.

test_readers.py puts screenshots of each page, at both sizes, in
test-artifacts/screenshots/readers/ (kept out of git), so a failure can be seen.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.site_server import HTML, ROOT, open_page, published, toc_pages

PAGES = toc_pages()


@pytest.mark.parametrize("name", PAGES)
def test_page_in_chromium(browser, site_url, name):
    context, page, problems = open_page(browser, f"{site_url}/{name}")
    try:  # (test_readers.py takes each page's screenshots)
        assert problems == [], problems

        # every formula typeset: each Sphinx math element holds a MathJax container
        untypeset = page.evaluate("""() => Array.from(document.querySelectorAll('.math'))
            .filter(el => !el.querySelector('mjx-container')).map(el => el.textContent)""")
        assert untypeset == [], f"formulas left as TeX: {untypeset[:3]}"
        visible = page.evaluate("""() => { const body = document.body.cloneNode(true);
            body.querySelectorAll('pre, code, script, style, mjx-container, .math')
                .forEach(el => el.remove());
            return body.innerText; }""")
        assert not re.search(r"\\\(|\\\[|\$\$", visible), "raw TeX delimiters in the text"

        # every image loaded, with alt text or a caption
        images = page.evaluate("""() => Array.from(document.images).map(img => ({
            src: img.src.slice(0, 80), width: img.naturalWidth,
            described: !!img.alt || !!img.closest('figure')?.querySelector('figcaption')}))""")
        broken = [i["src"] for i in images if i["width"] == 0]
        undescribed = [i["src"] for i in images if not i["described"]]
        assert broken == [] and undescribed == [], (broken, undescribed)

        # every internal link resolves (the file, and the anchor on this page)
        links = page.evaluate("""() => Array.from(document.querySelectorAll('a[href]'))
            .map(a => a.href)""")
        ids = set(page.evaluate("() => Array.from(document.querySelectorAll('[id]'))"
                                ".map(e => e.id)"))
        for link in {lk for lk in links if lk.startswith(site_url)}:
            target, _, fragment = link.partition("#")
            if target == page.url.partition("#")[0]:
                assert not fragment or urllib.parse.unquote(fragment) in ids, link
                continue
            with urllib.request.urlopen(target) as response:
                assert response.status == 200, link

        # launch buttons point at notebooks that exist in the repository
        for link in links:
            match = re.search(r"colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/(.+)"
                              r"|mybinder\.org/v2/gh/.+\?urlpath=lab/tree/(.+)", link)
            if match:
                path = ROOT / urllib.parse.unquote(match[1] or match[2])
                assert path.is_file() and path.suffix == ".ipynb", link
    finally:
        context.close()


def notebook_pages() -> list[str]:
    return [p for p in PAGES if (ROOT / p).with_suffix(".md").read_text().startswith(
        "---\njupytext:")]


@pytest.mark.parametrize("name", notebook_pages())
def test_notebook_pages_offer_an_ipynb_download_and_no_dead_launch_link(browser, site_url,
                                                                        name):
    """Launch and repository buttons exist exactly when the repository URL is real
    (tests/book/test_publishing.py builds the book with one)."""
    context, page, _ = open_page(browser, f"{site_url}/{name}")
    try:
        links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'))"
                              ".map(a => a.getAttribute('href'))")
        for host in ("colab.research.google.com", "mybinder.org", "github.com"):
            assert any(host in lk for lk in links) == published(), host
        downloads = [lk for lk in links if lk.endswith(".ipynb") and "_sources" in lk]
        assert downloads, "no .ipynb download"
        target = (HTML / name).parent / downloads[0]
        assert target.resolve().is_file()
    finally:
        context.close()


@pytest.mark.skipif(not published(), reason="no launch buttons while the repository URL is "
                    "the placeholder (tests/book/test_publishing.py checks them)")
@pytest.mark.parametrize("name", [p for p in PAGES if p.startswith("solutions/")])
def test_solution_pages_also_launch_the_exercise_notebook(browser, site_url, name):
    context, page, _ = open_page(browser, f"{site_url}/{name}")
    try:
        links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'))"
                              ".map(a => a.getAttribute('href'))")
        exercise = name.replace("solutions/", "exercises/").replace(".html", ".ipynb")
        for host in ("colab.research.google.com", "mybinder.org"):
            assert any(host in lk and lk.endswith(exercise) for lk in links), (host, exercise)
        assert (ROOT / exercise).is_file()
    finally:
        context.close()


def selected_frameworks(page) -> list[str]:
    return page.evaluate("""() => Array.from(document.querySelectorAll(
            '.sd-tab-set.framework-tabs')).map(set => {
        const input = set.querySelector(':scope > input:checked');
        return set.querySelector(`:scope > label[for="${input.id}"]`).dataset.syncId; })""")


def test_framework_tabs_switch_together_and_persist_across_pages(browser, site_url):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{site_url}/chapters/01_partial_derivatives.html", wait_until="load")
        assert selected_frameworks(page) == ["numpy"]
        page.locator(".sd-tab-set.framework-tabs label[data-sync-id='tensorflow']").first.click()
        assert selected_frameworks(page) == ["tensorflow"]
        for chapter in ["03_chain_rule", "04_backpropagation", "05_hessians",
                        "06_matrix_calculus", "07_neural_network", "08_convexity",
                        "09_training_dynamics", "10_expectations"]:
            page.goto(f"{site_url}/chapters/{chapter}.html", wait_until="load")
            chosen = selected_frameworks(page)
            assert chosen and set(chosen) == {"tensorflow"}, (chapter, chosen)
        page.locator(".sd-tab-set.framework-tabs label[data-sync-id='pytorch']").first.click()
        assert set(selected_frameworks(page)) == {"pytorch"}
        text = page.locator(".sd-tab-set.framework-tabs .sd-tab-content:visible").first
        assert "autograd" in text.inner_text()
    finally:
        context.close()


@pytest.mark.parametrize("name", ["chapters/01_partial_derivatives.html",
                                  "chapters/02_gradient_descent.html"])
def test_every_explorer_slider_changes_its_figure(browser, site_url, name):
    context, page, problems = open_page(browser, f"{site_url}/{name}")
    try:
        scrubbers = page.locator(".frame-scrubber")
        assert scrubbers.count() >= 1
        for k in range(scrubbers.count()):
            box = scrubbers.nth(k)
            before = box.locator(".frame:visible img").first.get_attribute("src")
            label_before = box.locator("output").inner_text()
            box.locator("input[type=range]").focus()
            page.keyboard.press("ArrowLeft")
            assert box.locator(".frame:visible").count() == 1  # one frame: all its panels
            assert box.locator(".frame:visible img").first.get_attribute("src") != before
            assert box.locator("output").inner_text() != label_before
        assert problems == []
    finally:
        context.close()


def test_the_site_reads_offline_from_files():
    """No page loads a script or stylesheet from another host."""
    for page in HTML.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        remote = [r for r in remote if not r.startswith("https://github.com")]
        assert remote == [], (page.relative_to(HTML), remote)
