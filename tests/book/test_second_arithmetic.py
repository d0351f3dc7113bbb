"""The book under a second arithmetic (`make numerics`, scripts/second_arithmetic.py) prints
what `make book` printed: every page's outputs read the same, except in the cells tagged
`machine-dependent` (measured times, round-off errors), which the website marks as such.

The glued numbers of the text are compared to round-off by test_built_site.py; this compares
every printed output exactly, so a new cell whose digits depend on the CPU fails here until it
prints what the mathematics decides (a bound, a rounded figure) or carries the tag.
"""

from __future__ import annotations

import pytest
from myst_nb.core.read import read_myst_markdown_notebook

from scripts.generated import BUILD, ROOT
from scripts.make_notebooks import executed_in_cache, notebook_sources

MAIN_CACHE = ROOT / "_build" / ".jupyter_cache"
TAG = "machine-dependent"


def printed(cell) -> str:
    """What a reader sees of a cell's outputs as text: streams, and plain-text results that
    have no richer form (an HTML frame, an image); glued values are not shown."""
    shown = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            shown.append(output["text"])
            continue
        data = output.get("data", {})
        if "scrapbook" in output.get("metadata", {}) or set(data) - {"text/plain"}:
            continue
        shown.append(data.get("text/plain", ""))
    return "".join(shown)


def test_every_untagged_output_reads_the_same_under_the_second_arithmetic():
    if BUILD == ROOT / "_build":
        pytest.skip("compares two builds: `make numerics` runs it")
    pages = [s for s in notebook_sources() if s.parent.name != "exercises"]
    tagged = compared = 0
    for source in pages:
        ours = executed_in_cache(source, MAIN_CACHE)
        theirs = executed_in_cache(source, BUILD / ".jupyter_cache")
        assert ours is not None, f"{source.name} is not in `make book`'s cache: run it first"
        assert theirs is not None, f"{source.name} is not in {BUILD}"
        # the tags as the page has them now (a cached notebook keeps those of its first run)
        code = [c for c in read_myst_markdown_notebook(source.read_text()).cells
                if c.cell_type == "code"]
        cells = [c for c in ours.cells if c.cell_type == "code"]
        others = [c for c in theirs.cells if c.cell_type == "code"]
        for number, (page, a, b) in enumerate(zip(code, cells, others, strict=True)):
            if TAG in page.metadata.get("tags", []):
                tagged += 1
                continue
            compared += 1
            assert printed(a) == printed(b), (
                f"{source.relative_to(ROOT)}, code cell {number} ({a.source.splitlines()[0]}) "
                f"prints other digits under another arithmetic:\n{printed(a)}\n---\n"
                f"{printed(b)}\nprint what the mathematics decides (a bound, fewer digits), "
                f"or tag the cell `{TAG}` if its digits are round-off or a measured time")
    assert compared > 100 and tagged > 10, (compared, tagged)
