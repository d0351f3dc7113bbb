"""Sphinx extension: code cells show readers the code that teaches, not the build's plumbing.

A chapter stores computed numbers for its text with MyST-NB's ``glue(...)`` and sets the
figure format with ``%config``; both must run when the page executes, and neither teaches
anything. MyST-NB shows a cell's source as written (its ``remove-input`` tag would hide the
whole cell), so this strips those statements from the displayed source after the page is
read, with the same function that writes the notebook twins (``scripts/plain_notebook.py``);
a cell left with no code loses its input box.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.plain_notebook import reader_code


def strip_plumbing(app: Sphinx, doctree: nodes.document) -> None:
    for cell_input in list(doctree.findall(nodes.container)):
        if "cell_input" not in cell_input["classes"]:
            continue
        for block in list(cell_input.findall(nodes.literal_block)):
            source = block.astext()
            shown = reader_code(source)
            if shown == source.strip("\n"):
                continue
            if shown.strip():
                block.children = [nodes.Text(shown)]
                block.rawsource = shown
            else:
                cell_input.parent.remove(cell_input)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", strip_plumbing)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
