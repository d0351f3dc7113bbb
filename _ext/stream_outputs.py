"""Sphinx extension: a cell's printed output as it was printed, however the kernel sent it.

The kernel sends what a cell prints in pieces, cut wherever its flush timer fires; on a busy
machine that can fall between the words of one ``print``. MyST-NB joins the pieces of a
stream with a line break after each (``myst_nb.core.utils.coalesce_streams`` strips each
piece and adds "\\n"), so "GradCheckError: gradient of tensor 0" came out on two lines in one
build in three, and the page's checks read it wrong. Here the pieces are joined exactly as
they were printed first, and MyST-NB's own function then does the rest (carriage returns,
backspaces, stdout before stderr). MyST-NB has no setting for it: its ``merge_streams``
option only turns the merging off, which leaves the pieces as separate blocks.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def joined_streams(outputs: list) -> list:
    """``outputs`` with each stream's pieces concatenated into its first piece."""
    merged, first = [], {}
    for output in outputs:
        if output.get("output_type") == "stream":
            if output["name"] in first:
                first[output["name"]]["text"] += output["text"]
                continue
            first[output["name"]] = output
        merged.append(output)
    return merged


def setup(app: Sphinx) -> dict:
    from myst_nb.core import render

    coalesce = render.coalesce_streams
    if not getattr(coalesce, "joins_pieces_first", False):
        def coalesce_joined(outputs: list) -> list:
            return coalesce(joined_streams(outputs))

        coalesce_joined.joins_pieces_first = True
        render.coalesce_streams = coalesce_joined
    return {"parallel_read_safe": True, "parallel_write_safe": True}
