"""Sphinx extension: exercises are numbered per chapter, "Exercise 4.2", as the text cites them.

The exercise pages sit in an unnumbered part of the table of contents, so Sphinx numbers
their exercises with one counter across the book (chapter 5's first exercise was "Exercise
15"). sphinx-exercise has no per-document numbering, so after Sphinx assigns its numbers this
renumbers the exercises of ``solutions/NN_*`` and ``exercises/NN_*`` pages as (NN, k), in
page order; the notebook twins use the same numbers (``scripts/plain_notebook.py``).
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx

EXERCISE_PAGE = re.compile(r"^(?:solutions|exercises)/(?P<chapter>\d+)_")


def number_per_chapter(app: Sphinx, env) -> list[str]:
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        page = EXERCISE_PAGE.match(docname)
        exercises = by_type.get("exercise")
        if not page or not exercises:
            continue
        chapter = int(page["chapter"])
        in_order = sorted(exercises, key=exercises.get)
        renumbered = {ident: (chapter, k) for k, ident in enumerate(in_order, start=1)}
        if renumbered != exercises:
            by_type["exercise"] = renumbered
            changed.append(docname)
    return changed


def setup(app: Sphinx) -> dict:
    # after Sphinx's own numbering (TocTreeCollector, default priority 500)
    app.connect("env-get-updated", number_per_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
