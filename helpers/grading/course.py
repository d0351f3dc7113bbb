"""A course kit: a class's secret, roster and private hidden cases, kept outside the book.

    python -m helpers.grading course init COURSE_DIR --roster roster.csv
    python -m helpers.grading course notebooks COURSE_DIR --out notebooks/
    python -m helpers.grading grade --course COURSE_DIR --out grades.csv submissions/*.ipynb
    python -m helpers.grading gradescope --course COURSE_DIR --out autograder.zip

The course directory holds ``course.json`` (the secret: never share it), ``roster.csv`` (one
row per student; the ``id`` column names them) and ``hidden_cases.json`` (the instructor's own
hidden cases, added to the book's). Each student's notebook of a chapter carries the
student's id, the seed of their variant (a keyed hash of the secret, the chapter and the id)
and a signature of both; its file is named ``<id>__<chapter notebook>.ipynb``. The grader
checks a submission against the student its file name (or folder) names, and flags one
whose id, seed or signature does not match.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from helpers.grading.questions import QUESTIONS
from helpers.grading.variants import course_seed, keyed, signature, variant

COURSE_FILE = "course.json"
ROSTER_FILE = "roster.csv"
HIDDEN_FILE = "hidden_cases.json"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.@+-]{0,63}$")  # no "_" : "__" separates
SEPARATOR = "__"


class CourseError(ValueError):
    """A course directory or roster that cannot be used: the message says how to fix it."""


@dataclass
class Course:
    folder: Path
    secret: str
    students: list[str]
    hidden: dict = field(default_factory=dict)  # chapter -> question -> [cases]

    @classmethod
    def load(cls, folder: Path) -> Course:
        folder = Path(folder)
        config_path = folder / COURSE_FILE
        if not config_path.is_file():
            raise CourseError(f"{folder} is not a course directory (no {COURSE_FILE}): create "
                              "one with `python -m helpers.grading course init`")
        try:
            secret = json.loads(config_path.read_text())["secret"]
        except (ValueError, KeyError, TypeError):
            raise CourseError(f"{config_path} is not a course file (no secret in it): restore "
                              "it from your backup; its secret made the students' notebooks"
                              ) from None
        students = read_roster(folder / ROSTER_FILE)
        hidden_path = folder / HIDDEN_FILE
        hidden = json.loads(hidden_path.read_text()) if hidden_path.exists() else {}
        for chapter, questions in hidden.items():
            if chapter not in QUESTIONS or not isinstance(questions, dict):
                raise CourseError(f"{hidden_path}: {chapter!r} is not a chapter key "
                                  f"({', '.join(sorted(QUESTIONS))})")
        return cls(folder, secret, students, hidden)

    def seed(self, student: str, chapter: str) -> int:
        return course_seed(self.secret, student, chapter)

    def variant(self, student: str, chapter: str, public: dict | None = None) -> dict:
        """``student``'s variant of ``chapter``: seed, parameters, id and signature."""
        seed = self.seed(student, chapter)
        return variant(chapter, seed, student, signature(self.secret, student, chapter, seed),
                       public)

    def salt(self, student: str, chapter: str) -> str:
        """The salt of the hashed public answers in a student's notebook (fixed per student
        and chapter, so the grader can rebuild the very cell it handed out)."""
        return keyed(self.secret, "salt", chapter, student)[:32]

    def identify(self, path: Path) -> tuple[str | None, str | None]:
        """(whose submission a file is, a flag or None). A folder named by a student's id (an
        LMS download: one folder per submitter; the nearest of the file's three folders that
        names one) names the submitter, whatever the file is called; a file name
        ``<id>__...`` that names someone else is flagged. Without such a folder, the file
        name's id; None if neither names a student."""
        path = Path(path)
        named = path.name.split(SEPARATOR, 1)[0] if SEPARATOR in path.name else None
        folder = next((parent.name for parent in path.parents[:3]
                       if parent.name in self.students), None)
        if folder is not None:
            if named is not None and named != folder:
                return folder, (f"submitted by {folder} (its folder), but its file name "
                                f"names {named[:64]!r}: a notebook passed on?")
            return folder, None
        return (named if named in self.students else None), None


def read_roster(path: Path) -> list[str]:
    """The student ids of a roster CSV (an ``id`` column; other columns are kept aside)."""
    if not Path(path).is_file():
        raise CourseError(f"no roster at {path}: a CSV file with an 'id' column")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "id" not in rows[0]:
        raise CourseError(f"{path} needs a header row with an 'id' column (and one row per "
                          "student)")
    ids = [row["id"].strip() for row in rows]
    bad = [i for i in ids if not STUDENT_ID.match(i)]
    if bad:
        raise CourseError(f"{path}: student ids must be letters, digits and . @ + - (no "
                          f"spaces or '_', at most 64): {bad[:3]}")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise CourseError(f"{path}: these ids appear more than once: {repeated[:3]}")
    return ids


def init(folder: Path, roster: Path, book_root: Path | None = None) -> Course:
    """Create a course directory: a new secret, a copy of the roster, an empty hidden-cases
    file. Refuses a folder inside the book's repository (its secret would be published with
    it) and an existing course (its secret would be lost, and every notebook with it)."""
    folder = Path(folder).resolve()
    book_root = (book_root or Path(__file__).resolve().parents[2]).resolve()
    if (book_root / ".git").exists() and (folder == book_root or book_root in folder.parents):
        raise CourseError(f"{folder} is inside the book's repository ({book_root}): put the "
                          "course directory elsewhere, so that its secret is never committed")
    if (folder / COURSE_FILE).exists():
        raise CourseError(f"{folder} already holds a course; its secret made the students' "
                          "notebooks, so it is not replaced")
    students = read_roster(roster)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ROSTER_FILE).write_text(Path(roster).read_text())
    (folder / HIDDEN_FILE).write_text("{}\n")
    config_path = folder / COURSE_FILE
    config_path.write_text(json.dumps({"secret": secrets.token_hex(32)}, indent=1) + "\n")
    config_path.chmod(0o600)
    return Course(folder, json.loads(config_path.read_text())["secret"], students)


def notebook_name(student: str, chapter_notebook: str) -> str:
    return f"{student}{SEPARATOR}{chapter_notebook}"


def exercise_twin(chapter: str, root: Path) -> Path:
    """The book's exercise notebook (.ipynb twin) of a chapter."""
    for path in sorted((root / "exercises").glob("*.ipynb")):
        if json.loads(path.read_text()).get("metadata", {}).get("grading", {}).get(
                "chapter") == chapter:
            return path
    raise CourseError(f"no exercise notebook for {chapter} in {root / 'exercises'}: run "
                      "`make notebooks` in the book's repository first")


def student_notebook(twin: dict, the_variant: dict) -> dict:
    """The book's exercise notebook made into one student's: statements with their numbers,
    their variant cell, and their id, seed and signature in the metadata."""
    from helpers.grading.variants import VARIANT_TEMPLATE, render, with_variant

    notebook = json.loads(json.dumps(twin))  # a deep copy
    for cell in notebook["cells"]:
        template = cell.get("metadata", {}).pop(VARIANT_TEMPLATE, None)
        if template is not None:  # the student never sees the template, only their numbers
            cell["source"] = render(template, the_variant["params"])
    notebook, _ = with_variant(notebook, the_variant)
    notebook["metadata"]["grading"] = {
        "chapter": the_variant["chapter"], "student": the_variant["student"],
        "seed": the_variant["seed"], "signature": the_variant["signature"]}
    return notebook


def write_notebooks(course: Course, grader, out: Path, chapters: list[str],
                    root: Path) -> list[Path]:
    """One notebook per student and chapter in ``out``; the variants' reference answers are
    computed (in the grader's sandbox, several at a time) for their public checks."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    twins = {chapter: exercise_twin(chapter, root) for chapter in chapters}
    jobs = [(student, chapter) for chapter in chapters for student in course.students]
    variants = grader.canonicals(jobs)
    written = []
    for (student, chapter), the_variant in zip(jobs, variants, strict=True):
        twin = json.loads(twins[chapter].read_text())
        path = out / notebook_name(student, twins[chapter].name)
        path.write_text(json.dumps(student_notebook(twin, the_variant), indent=1) + "\n")
        written.append(path)
    return written
