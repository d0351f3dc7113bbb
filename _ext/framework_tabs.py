"""Sphinx extension: executed NumPy / PyTorch / TensorFlow cells become synced tabs.

MyST-NB does not execute code cells written inside sphinx-design ``tab-item`` directives, so a
chapter cannot put executed framework code in tabs directly. Instead, it writes ordinary code
cells tagged ``framework-numpy``, ``framework-pytorch`` or ``framework-tensorflow``. In a
notebook these are just cells run in order. On the website, each run of consecutive tagged
cells (nothing else between them) becomes one sphinx-design tab set, one tab per framework,
in the sync group ``framework``: choosing a tab switches every tab set on the page, and
sphinx-design remembers the choice (in the browser's localStorage) on the next page.

Several consecutive cells of the same framework share its tab. A framework that appears twice
in one run with another between, a run of one framework only, or an unknown framework tag is
reported as a build warning (an error under ``-W``).
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx_design.shared import create_component

LOGGER = logging.getLogger(__name__)

TAG_PREFIX = "framework-"
FRAMEWORKS = {"numpy": "NumPy", "pytorch": "PyTorch", "tensorflow": "TensorFlow"}
SYNC_GROUP = "framework"


def framework_of_cell(node: nodes.Node) -> str | None:
    """The framework a MyST-NB code cell is tagged with, or None for any other node."""
    if not isinstance(node, nodes.container) or node.get("nb_element") != "cell_code":
        return None
    tags = node.get("cell_metadata", {}).get("tags", [])
    found = [t[len(TAG_PREFIX):] for t in tags if t.startswith(TAG_PREFIX)]
    if not found:
        return None
    if len(found) > 1 or found[0] not in FRAMEWORKS:
        allowed = sorted(TAG_PREFIX + k for k in FRAMEWORKS)
        LOGGER.warning(f"a cell needs exactly one tag of {allowed}, got {found}",
                       location=node, type="framework_tabs")
        return None
    return found[0]


def make_tab_set(run: list[tuple[str, nodes.Node]]) -> nodes.container:
    """One sphinx-design tab set holding the cells of ``run``, grouped by framework."""
    tab_set = create_component("tab-set", classes=["sd-tab-set", "framework-tabs"])
    tab_set.source, tab_set.line = run[0][1].source, run[0][1].line
    items: dict[str, nodes.container] = {}
    previous = None
    for framework, cell in run:
        if framework not in items:
            label = nodes.rubric(FRAMEWORKS[framework], nodes.Text(FRAMEWORKS[framework]),
                                 classes=["sd-tab-label"])
            label["sync_id"] = framework
            label["sync_group"] = SYNC_GROUP
            content = create_component("tab-content", classes=["sd-tab-content"])
            items[framework] = create_component("tab-item", classes=["sd-tab-item"],
                                                children=[label, content])
            tab_set += items[framework]
        elif framework != previous:
            LOGGER.warning(f"{FRAMEWORKS[framework]} cells are split by another framework's "
                           "cells in one tab group; keep each framework's cells together",
                           location=cell, type="framework_tabs")
        items[framework].children[1] += cell
        previous = framework
    if len(items) < 2:
        LOGGER.warning(f"a framework tab group needs cells of at least two frameworks, "
                       f"got only {list(items)}", location=run[0][1], type="framework_tabs")
    return tab_set


def group_framework_cells(document: nodes.Node) -> int:
    """Replace each run of consecutive framework-tagged cells by a tab set; count the sets."""
    count = 0
    for parent in list(document.findall(nodes.Element)):
        children = list(parent.children)
        kinds = [framework_of_cell(child) for child in children]  # once per cell: one warning
        if not any(kinds):
            continue
        new_children, i = [], 0
        while i < len(children):
            run = []
            while i < len(children) and kinds[i]:
                run.append((kinds[i], children[i]))
                i += 1
            if run:
                for _, cell in run:
                    parent.remove(cell)
                new_children.append(make_tab_set(run))
                count += 1
            else:
                new_children.append(children[i])
                i += 1
        parent.children = []
        parent.extend(new_children)
    return count


class FrameworkTabsTransform(SphinxTransform):
    """Runs after MyST-NB has turned the notebook into cells, before sphinx-design's HTML."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        group_framework_cells(self.document)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx_design")
    app.add_transform(FrameworkTabsTransform)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
