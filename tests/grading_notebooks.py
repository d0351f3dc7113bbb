"""Submissions written by the grading tests: a solution or blank exercise, altered."""

from __future__ import annotations

from pathlib import Path

import nbformat

from helpers.grading.grade import solution_path

ROOT = Path(__file__).resolve().parents[1]


def notebook(tmp_path: Path, name: str, chapter: str = "ch1", first_cell: str = "",
             answers: dict[str, str] | None = None, blank: bool = False) -> Path:
    """A chapter's solution (or blank exercise) with a cell put first and answers replaced."""
    source = (ROOT / "exercises" if blank else ROOT / "solutions") / \
        solution_path(chapter).with_suffix(".ipynb").name
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        for question, code in (answers or {}).items():
            if "answer" in cell.metadata.get("tags", []) and (
                    f"def {question}(" in cell.source or f"\n{question} =" in f"\n{cell.source}"):
                cell.source = code
    if first_cell:
        nb.cells.insert(1, nbformat.v4.new_code_cell(first_cell))
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path
