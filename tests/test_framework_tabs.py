"""The transform that turns consecutive framework-tagged cells into one synced tab set."""

import sys
from pathlib import Path

import pytest
from docutils import nodes
from sphinx_design.shared import is_component

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
import framework_tabs  # a Sphinx local extension, not an installed package


def cell(source: str, tags=()) -> nodes.container:
    node = nodes.container(nb_element="cell_code", cell_metadata={"tags": list(tags)},
                           classes=["cell"])
    node += nodes.literal_block(source, source)
    return node


def section(*children) -> nodes.section:
    node = nodes.section()
    node.extend(children)
    return node


def tabs(tab_set):
    return [(item.children[0].astext(), item.children[0]["sync_id"],
             [c.astext() for c in item.children[1].children]) for item in tab_set.children]


def test_consecutive_framework_cells_become_one_synced_tab_set():
    doc = section(
        nodes.paragraph(text="intro"),
        cell("import numpy", ["framework-numpy"]),
        cell("import torch", ["framework-pytorch"]),
        cell("x.backward()", ["framework-pytorch"]),
        cell("import tensorflow", ["framework-tensorflow", "hide-output"]),
        nodes.paragraph(text="between"),
        cell("plain cell"),
    )
    assert framework_tabs.group_framework_cells(doc) == 1
    kinds = [c.__class__.__name__ if not is_component(c, "tab-set") else "tab-set"
             for c in doc.children]
    assert kinds == ["paragraph", "tab-set", "paragraph", "container"]
    tab_set = doc.children[1]
    assert tabs(tab_set) == [
        ("NumPy", "numpy", ["import numpy"]),
        ("PyTorch", "pytorch", ["import torch", "x.backward()"]),
        ("TensorFlow", "tensorflow", ["import tensorflow"]),
    ]
    assert all(item.children[0]["sync_group"] == "framework" for item in tab_set.children)


def test_a_paragraph_between_cells_starts_a_new_tab_set():
    doc = section(
        cell("a", ["framework-numpy"]), cell("b", ["framework-pytorch"]),
        nodes.paragraph(text="text"),
        cell("c", ["framework-numpy"]), cell("d", ["framework-tensorflow"]),
    )
    assert framework_tabs.group_framework_cells(doc) == 2
    assert [tabs(c) for c in doc.children if is_component(c, "tab-set")] == [
        [("NumPy", "numpy", ["a"]), ("PyTorch", "pytorch", ["b"])],
        [("NumPy", "numpy", ["c"]), ("TensorFlow", "tensorflow", ["d"])],
    ]


def test_nested_sections_are_transformed_too():
    inner = section(cell("a", ["framework-numpy"]), cell("b", ["framework-pytorch"]))
    doc = section(nodes.paragraph(text="top"), inner)
    assert framework_tabs.group_framework_cells(doc) == 1
    assert is_component(inner.children[0], "tab-set")


def test_untagged_documents_are_left_alone():
    doc = section(nodes.paragraph(text="p"), cell("x = 1"))
    before = doc.deepcopy().pformat()
    assert framework_tabs.group_framework_cells(doc) == 0
    assert doc.pformat() == before


@pytest.mark.parametrize(
    "cells",
    [
        [cell("a", ["framework-numpy"]), cell("b", ["framework-pytorch"]),
         cell("c", ["framework-numpy"])],
        [cell("a", ["framework-numpy"])],
    ],
)
def test_badly_grouped_cells_are_reported(cells, monkeypatch):
    warnings = []
    monkeypatch.setattr(framework_tabs.LOGGER, "warning", lambda msg, **kw: warnings.append(msg))
    framework_tabs.group_framework_cells(section(*cells))
    assert len(warnings) == 1


def test_an_unknown_framework_tag_is_reported_and_the_cell_kept(monkeypatch):
    warnings = []
    monkeypatch.setattr(framework_tabs.LOGGER, "warning", lambda msg, **kw: warnings.append(msg))
    doc = section(cell("a", ["framework-jax"]))
    assert framework_tabs.group_framework_cells(doc) == 0
    assert len(warnings) == 1 and "'jax'" in warnings[0]
