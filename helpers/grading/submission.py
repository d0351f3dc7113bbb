"""Reading a submission: a file and a JSON document that are both untrusted.

Everything here runs in the grader's own process, before any sandbox, so nothing a file holds
may raise anything but :class:`Refused` (one row, one message): not its type (a link, a FIFO),
not its size, and not the shape of its JSON (a chapter given as a list, a cell that is a
number, nesting ten thousand deep). What goes on to the worker is a notebook rebuilt here
from the parts that were understood: code and text cells, their tags, no outputs.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_SUBMISSION_BYTES = 20 * 1024**2  # a notebook's code and text
# A file may be larger only for its outputs (a large print left in): read up to this, then
# graded with its outputs stripped.
MAX_FILE_BYTES = 100 * 1024**2
CELL_TYPES = ("code", "markdown", "raw")


class Refused(ValueError):
    """The submission cannot be graded; the message says why and what to do."""


@dataclass
class Submission:
    """A submission as the grader understood it."""

    notebook: dict  # rebuilt: nbformat 4 cells with source and tags, no outputs
    grading: dict  # its metadata.grading (an empty dict where it had none, or not a dict)
    chapter: str | None  # grading.chapter, where it names a chapter
    notes: list[str] = field(default_factory=list)  # what was ignored or stripped, and why


def read_file(path: Path) -> bytes:
    """The bytes of a submission that is a regular file; anything else is refused with a
    message (a link could point at a solution, a FIFO would block, a device never ends).
    The file is opened without following links and never written."""
    try:
        if path.is_symlink():
            raise OSError("it is a symbolic link: submit the notebook file itself")
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise OSError(error.strerror or str(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if \
                stat.S_ISFIFO(info.st_mode) else "a device or socket"
            raise OSError(f"it is {kind}, not a regular file: submit the .ipynb file itself")
        if info.st_size > MAX_FILE_BYTES:
            raise OSError(f"it is {info.st_size / 1024**2:.0f} MB; a notebook to grade may "
                          f"have at most {MAX_SUBMISSION_BYTES // 1024**2} MB (clear its "
                          "outputs: Edit > Clear Outputs of All Cells, then save)")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def _text(source: object, where: str) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    raise Refused(f"{where}'s source is {_kind(source)}, not text: it is not a notebook "
                  "Jupyter wrote; submit the exercise notebook as saved")


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "true or false",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "data")


def _cell(cell: object, number: int) -> dict:
    where = f"cell {number}"
    if not isinstance(cell, dict):
        raise Refused(f"{where} is {_kind(cell)}, not a cell: submit the exercise notebook "
                      "as saved")
    kind = cell.get("cell_type")
    if kind not in CELL_TYPES:
        raise Refused(f"{where} has cell_type {str(kind)[:40]!r}; a notebook's cells are "
                      "code, markdown or raw")
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    tags = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    rebuilt = {"cell_type": kind, "metadata": {"tags": tags} if tags else {},
               "source": _text(cell.get("source", ""), where)}
    if kind == "code":
        rebuilt |= {"execution_count": None, "outputs": []}
    return rebuilt


def parse(data: bytes, chapters: set[str] | dict) -> Submission:
    """Understand a submission's bytes, or refuse them with the reason. ``chapters``: the
    chapter names a notebook's ``metadata.grading.chapter`` may hold."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:  # RecursionError: nesting too deep
        raise Refused(f"not a valid notebook (.ipynb JSON): {str(error)[:120]}") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise Refused("not a valid notebook (.ipynb JSON): no list of cells")
    cells = [_cell(cell, number) for number, cell in enumerate(document["cells"])]
    notes = []
    metadata = document.get("metadata", {})
    grading = metadata.get("grading", {}) if isinstance(metadata, dict) else {}
    if not isinstance(grading, dict):
        notes.append(f"its metadata.grading is {_kind(grading)}, not an object: ignored")
        grading = {}
    chapter = grading.get("chapter")
    if chapter is not None and not (isinstance(chapter, str) and chapter in chapters):
        shown = repr(chapter[:40]) if isinstance(chapter, str) else _kind(chapter)
        notes.append(f"its metadata.grading.chapter is {shown}, not a chapter: ignored")
        chapter = None
    notebook = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells}
    size = len(json.dumps(notebook))
    if size > MAX_SUBMISSION_BYTES:
        raise Refused(f"its code and text take {size / 1024**2:.0f} MB; a notebook to grade "
                      f"may have at most {MAX_SUBMISSION_BYTES // 1024**2} MB")
    if len(data) > MAX_SUBMISSION_BYTES:
        notes.append(f"graded with its outputs stripped: the file is "
                     f"{len(data) / 1024**2:.0f} MB, over the "
                     f"{MAX_SUBMISSION_BYTES // 1024**2} MB limit, because of its outputs "
                     "(clear them before submitting)")
    return Submission(notebook, grading, chapter, notes)
