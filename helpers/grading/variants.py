"""Per-student variants of the exercises: each student's own numbers, and proof of whose.

A question may declare parameters (``Question.draw``): a point, a coefficient, drawn from a
generator seeded by the variant's seed, in ranges where every variant is well posed. A
*variant* of a chapter is its seed and the parameters drawn from it; seed 0 is the book's
own variant, with the numbers the website and the self-study notebooks show
(``Question.book``).

In a notebook the variant is one code cell tagged ``variant`` that defines ``VARIANT`` (a
plain dict). The book's notebooks say ``VARIANT = book_variant("ch1")``; a course notebook
holds its own dict there, with the public expected answers of that variant for the
in-notebook ``check``. The grader never trusts that cell: it writes the canonical cell of the
student's variant over it before anything runs (and flags a submission whose cell was
edited). Statements name parameters as ``{{ q2.point }}``; :func:`render` fills them in.

A course's seeds and signatures are keyed hashes (HMAC-SHA256) of the course secret, the
chapter and the student id: a student cannot pick a seed, and a notebook moved to another
student, or a seed edited, no longer matches its signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from helpers.grading.questions import chapter_questions

VARIANT_TAG = "variant"
VARIANT_TEMPLATE = "variant_template"  # metadata of a statement cell: its text before render
PLACEHOLDER = re.compile(r"\{\{\s*(q\d+)\.(\w+)\s*\}\}")


def draw(chapter: str, seed: int) -> dict[str, dict]:
    """The parameters of every parameterised question of ``chapter`` for ``seed``."""
    params = {}
    for index, question in enumerate(chapter_questions(chapter)):
        if question.draw is None:
            continue
        if seed == 0:
            params[question.name] = dict(question.book)
        else:  # one stream per question: adding a question never changes the others
            params[question.name] = question.draw(np.random.default_rng([seed, index]))
    return params


def variant(chapter: str, seed: int = 0, student: str | None = None,
            signature: str | None = None, public: dict | None = None) -> dict:
    """A chapter's variant as the plain dict a notebook's ``VARIANT`` holds."""
    out: dict[str, Any] = {"chapter": chapter, "seed": int(seed), "params": draw(chapter, seed)}
    if student is not None:
        out["student"] = student
    if signature is not None:
        out["signature"] = signature
    if public is not None:
        out["public"] = public
    return out


def book_variant(chapter: str) -> dict:
    """The book's own variant (seed 0): the numbers the website and self-study show."""
    return variant(chapter, 0)


def parameterised(chapter: str) -> bool:
    return any(q.draw is not None for q in chapter_questions(chapter))


def format_value(value: Any) -> str:
    """A parameter as the statement shows it: 2, 0.5, (1, -2)."""
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    if isinstance(value, (int, np.integer)) or float(value).is_integer():
        return str(int(value))
    return f"{float(value):g}"


def render(text: str, params: Mapping[str, Mapping[str, Any]]) -> str:
    """Fill in the ``{{ qN.name }}`` placeholders of a statement with a variant's values."""
    def value(match: re.Match) -> str:
        question, name = match.groups()
        try:
            return format_value(params[question][name])
        except KeyError:
            raise KeyError(f"the statement names {{{{ {question}.{name} }}}}, which the "
                           f"variant does not define") from None

    return PLACEHOLDER.sub(value, text)


def cell_source(the_variant: dict) -> str:
    """The source of the ``variant`` cell of a notebook that holds ``the_variant``."""
    text = json.dumps(the_variant, sort_keys=True)
    return ("# Your variant of these exercises: your own numbers. Do not edit this cell (the\n"
            "# grader writes it again from the course's records before it runs anything).\n"
            f"VARIANT = {text}")


def read_variant(notebook: dict) -> dict | None:
    """The ``VARIANT`` a notebook's variant cell holds as a literal (a course notebook's), or
    None (the book's ``book_variant(...)`` call, no cell, or a cell that is not a literal)."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and \
                VARIANT_TAG in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            literal = source.split("VARIANT = ", 1)[-1]
            try:
                found = json.loads(literal)
            except ValueError:
                return None
            return found if isinstance(found, dict) else None
    return None


def with_variant(notebook: dict, the_variant: dict) -> tuple[dict, str | None]:
    """The notebook with its ``variant`` cell holding ``the_variant`` (inserted after the
    first code cell where there is none), and a note if the cell it had differed."""
    cells = notebook.setdefault("cells", [])
    source = cell_source(the_variant)
    tagged = [c for c in cells if c.get("cell_type") == "code"
              and VARIANT_TAG in c.get("metadata", {}).get("tags", [])]
    note = None
    if tagged:
        had = tagged[0].get("source", "")
        had = "".join(had) if isinstance(had, list) else had
        # the book's own notebooks call book_variant(...): that is the seed-0 cell as written
        as_written = the_variant["seed"] == 0 and "book_variant(" in had
        if had.strip() != source.strip() and not as_written:
            note = "the variant cell was edited; it was restored before grading"
        tagged[0]["source"] = source
        for extra in tagged[1:]:
            extra["source"] = ""
    else:
        if parameterised(the_variant["chapter"]):
            note = "the variant cell was missing; it was put back before grading"
        first_code = next((i for i, c in enumerate(cells) if c.get("cell_type") == "code"), -1)
        cell = {"cell_type": "code", "execution_count": None,
                "metadata": {"tags": [VARIANT_TAG]}, "outputs": [], "source": source}
        if notebook.get("nbformat_minor", 0) >= 5:  # nbformat 4.5 cells carry an id
            cell["id"] = "variant"
        cells.insert(first_code + 1, cell)
    return notebook, note


# -- a course's keyed seeds and signatures ---------------------------------------------------

def keyed(secret: str, *parts: str) -> str:
    """HMAC-SHA256 of the parts under the course secret, as hex: seeds, signatures, salts."""
    return hmac.new(secret.encode(), "|".join(parts).encode(), hashlib.sha256).hexdigest()


def course_seed(secret: str, student: str, chapter: str) -> int:
    """The seed of ``student``'s variant of ``chapter`` (never 0: that is the book's)."""
    return int(keyed(secret, "seed", chapter, student)[:12], 16) or 1


def signature(secret: str, student: str, chapter: str, seed: int) -> str:
    return keyed(secret, "signature", chapter, student, str(int(seed)))[:32]


def mismatches(canonical: Mapping[str, Any], claimed: Mapping[str, Any]) -> list[str]:
    """What is wrong with a submitted notebook's claim (its ``grading`` metadata) to be the
    ``canonical`` variant (the one the course made for the student who submitted it)."""
    student = canonical["student"]
    claimed_student = claimed.get("student")
    if claimed_student is None:
        return ["the notebook carries no student id (not the notebook the course handed out)"]
    if claimed_student != student:
        return [f"this notebook was made for student {str(claimed_student)[:64]!r}, not "
                f"{student!r}"]
    if claimed.get("seed") != canonical["seed"]:
        return ["its seed is not the one the course gave this student (edited?)"]
    if not hmac.compare_digest(str(claimed.get("signature", "")), canonical["signature"]):
        return ["its signature does not match its seed and student (edited?)"]
    return []
