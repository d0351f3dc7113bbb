"""Per-page weight and readiness of the built website in headless Chromium, from localhost.

For every page of _toc.yml it prints the bytes transferred (HTML, JS, CSS, images, fonts
and the rest; text is gzip-compressed, as web hosts serve it) and the time from navigation
until MathJax has typeset the page and every image has decoded. Budget: under 2.5 MB and
1.5 s per page on this machine. "raw" is the uncompressed size of the same files, "axe" the
number of serious or critical accessibility violations axe-core finds (`make node_modules`).

    python benchmarks/page_performance.py        # after `make book`
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.site_server import (
    WAIT_FOR_MATH_AND_IMAGES,
    axe_violations,
    chromium,
    serve,
    toc_pages,
)

KINDS = {"document": "html", "script": "js", "stylesheet": "css", "image": "img",
         "font": "font"}
BUDGET_BYTES, BUDGET_SECONDS = 2.5e6, 1.5


def measure(browser, url: str) -> tuple[dict[str, int], float, int]:
    context = browser.new_context()
    page = context.new_page()
    sizes: dict[str, int] = collections.Counter()

    def count(response):
        try:
            raw = len(response.body())
        except Exception:  # redirects and aborted requests have no body
            return
        sent = int(response.headers.get("content-length", raw))  # compressed size on the wire
        sizes[KINDS.get(response.request.resource_type, "other")] += sent
        sizes["uncompressed"] += raw

    page.on("response", count)
    page.goto(url, wait_until="load")
    ready_ms = page.evaluate(WAIT_FOR_MATH_AND_IMAGES)
    page.remove_listener("response", count)
    violations = len(axe_violations(page))
    context.close()
    return dict(sizes), ready_ms / 1000, violations


def main() -> int:
    columns = ["html", "js", "css", "img", "font", "other"]
    print(f"{'page':<40}" + "".join(f"{c:>9}" for c in columns)
          + f"{'total':>10}{'ready':>8}{'raw':>9}{'axe':>5}")
    over = 0
    with serve() as site, chromium() as browser:
        measure(browser, f"{site}/intro.html")  # warm up the browser once
        for name in toc_pages():
            sizes, seconds, violations = measure(browser, f"{site}/{name}")
            raw = sizes.pop("uncompressed", 0)
            total = sum(sizes.values())
            flag = "" if total < BUDGET_BYTES and seconds < BUDGET_SECONDS else "  OVER BUDGET"
            over += bool(flag)
            print(f"{name:<40}" + "".join(f"{sizes.get(c, 0) / 1e3:>8.0f}k" for c in columns)
                  + f"{total / 1e6:>9.2f}M{seconds:>7.2f}s{raw / 1e6:>8.2f}M{violations:>5}{flag}")
    print(f"budget: {BUDGET_BYTES / 1e6:.1f} MB and {BUDGET_SECONDS} s per page; "
          f"{over} page(s) over")
    return 0


if __name__ == "__main__":
    sys.exit(main())
