"""Serve the built website on localhost and drive Debian's Chromium with Playwright.

Shared by the browser tests and benchmarks/page_performance.py. Chromium comes from Debian's
`chromium` package (`apt-get install -y chromium`): Playwright's own browser download
(`playwright install`) needs a network this project does not have.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

from scripts.generated import BUILD, ROOT, toc_files

HTML = BUILD / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def published() -> bool:
    """Whether _config.yml names the book's real repository (not the placeholder)."""
    import yaml

    from _ext.repository_links import is_placeholder

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return not is_placeholder(config["repository"]["url"])


def open_page(browser, url: str, viewport: tuple[int, int] = (1280, 900),
              color_scheme: str = "light"):
    """A fresh page, loaded and typeset, with collectors for console errors and failed local
    requests: (context, page, problems)."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  color_scheme=color_scheme)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}")
            if "127.0.0.1" in r.url else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 and "127.0.0.1" in r.url else None)
    page.goto(url, wait_until="load")
    page.evaluate(WAIT_FOR_MATH_AND_IMAGES)
    return context, page, problems


def toc_pages() -> list[str]:
    """The built page of every file in _toc.yml, e.g. 'chapters/01_partial_derivatives.html'."""
    return [f"{name}.html" for name in toc_files()]


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, gzip-compressed when the browser accepts it, as web hosts serve them."""

    def log_message(self, *args) -> None:  # keep test output readable
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        compressible = path.suffix in {".html", ".js", ".css", ".svg", ".json", ".txt", ".map"}
        if not (compressible and path.is_file()
                and "gzip" in self.headers.get("Accept-Encoding", "")):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@contextlib.contextmanager
def serve(directory: Path = HTML) -> Iterator[str]:
    """Serve ``directory`` on a free localhost port; yields the base URL."""
    if not (directory / "index.html").exists():
        raise FileNotFoundError(f"{directory} has no built book: run `make book` first")
    handler = functools.partial(_Handler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Debian Chromium driven by Playwright."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} not found: install Debian's browser with "
                                "`apt-get update && apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Resolves once MathJax has typeset the page (or at once on a page without MathJax), then
# waits for every image to finish decoding.
WAIT_FOR_MATH_AND_IMAGES = """async () => {
    if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
        await window.MathJax.startup.promise;
    }
    await Promise.all(Array.from(document.images).map(img => img.complete ? null :
        new Promise(resolve => { img.onload = img.onerror = resolve; })));
    return performance.now();
}"""

# axe-core (npm, package-lock.json; `make node_modules`): the accessibility rules a page is
# checked against. AXE_SERIOUS lists the violations of serious or critical impact.
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_SERIOUS = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
    .filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => `${v.id} (${v.impact}): ${v.nodes.length} element(s), e.g. ` +
              v.nodes[0].target.join(' '))"""


def axe_violations(page) -> list[str]:
    """The serious and critical accessibility violations on an open Playwright page."""
    if not AXE.is_file():
        raise FileNotFoundError(f"{AXE} is missing: run `make node_modules` (npm ci)")
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_SERIOUS)
