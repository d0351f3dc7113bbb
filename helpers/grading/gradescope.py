"""Export the grader as a Gradescope autograder, and run it there.

Gradescope's autograder layout (https://gradescope-autograders.readthedocs.io): a zip whose
``setup.sh`` runs once when Gradescope builds the image and whose ``run_autograder`` runs for
each submission, with the student's files in ``/autograder/submission/`` and the results
expected in ``/autograder/results/results.json``. The zip made here carries the ``helpers``
package and the reference answers of the chosen chapters, computed when it is made (hidden
cases included); it does not carry ``solutions/``. Each submission runs in the same
bubblewrap sandbox as a local batch: the answers in the container are out of its view.

    python -m helpers.grading gradescope --out autograder.zip [--chapter ch1 ...]
"""

from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from pathlib import Path

from helpers.grading.grade import Grader, GradingError, Result
from helpers.grading.questions import QUESTIONS, chapter_questions

REFERENCES = "references.json"
QUESTION_MESSAGE = re.compile(r"q\d+: ")

SETUP = """\
#!/usr/bin/env bash
# Gradescope image set-up: Python, the sandbox, and what the grader imports.
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip bubblewrap
python3 -m pip install --quiet --break-system-packages numpy nbformat ipython \\
  || python3 -m pip install --quiet numpy nbformat ipython
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
mkdir -p "$ROOT/results"
PYTHONPATH="$ROOT/source" "${PYTHON:-python3}" -m helpers.grading.gradescope \\
  "$ROOT/source/references.json" "$ROOT/submission" "$ROOT/results/results.json"
"""


def build(out: Path, chapters: list[str] | None = None, sandboxed: bool = True,
          course=None) -> Path:
    """Write the autograder zip for ``chapters`` (default: all), its references computed
    now, in the sandbox, from solutions/ and the hidden cases. With a ``course``, every
    student's own variant and its references: the zip carries those, not the secret."""
    import helpers

    chapters = chapters or sorted(QUESTIONS)
    grader = Grader(sandboxed=sandboxed, course=course)
    references = {"sandboxed": sandboxed, "chapters": {
        chapter: {"cases": grader.cases(chapter), "expected": grader.expected(chapter)}
        for chapter in chapters if course is None}}
    if course is not None:
        jobs = [(student, chapter) for student in course.students for chapter in chapters]
        variants = grader.canonicals(jobs)
        emails = _roster_emails(course)
        students = {student: {"email": emails.get(student, ""), "variants": {}}
                    for student in course.students}
        for (student, chapter), the_variant in zip(jobs, variants, strict=True):
            students[student]["variants"][chapter] = the_variant
            references["chapters"][f"{chapter}/{the_variant['seed']}"] = {
                "cases": grader.cases(chapter),
                "expected": grader.expected(chapter, the_variant["seed"])}
        references["course"] = {"students": students}
    package = Path(helpers.__file__).resolve().parent
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable, as Gradescope runs them
            archive.writestr(info, text)
        archive.writestr(REFERENCES, json.dumps(references))
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, Path("helpers") / path.relative_to(package))
    return out


def _roster_emails(course) -> dict[str, str]:
    import csv

    with open(course.folder / "roster.csv", newline="") as handle:
        return {row["id"].strip(): row.get("email", "").strip().lower()
                for row in csv.DictReader(handle)}


class StoredCourse:
    """A course as an exported autograder knows it: each student's variants, computed when
    the zip was made, and who submitted (from Gradescope's submission metadata)."""

    def __init__(self, record: dict, submitter: str | None):
        self.record, self.submitter, self.hidden = record, submitter, {}

    def identify(self, path: Path) -> tuple[str | None, str | None]:
        return self.submitter, None

    def seed(self, student: str, chapter: str) -> int:
        return self.canonical(student, chapter)["seed"]

    def canonical(self, student: str, chapter: str) -> dict:
        variants = self.record["students"][student]["variants"]
        if chapter not in variants:
            raise GradingError(f"this autograder has no variant of {chapter} for {student}")
        return variants[chapter]


def submitter(record: dict, metadata_path: Path) -> str | None:
    """The roster id of the student who submitted, from Gradescope's submission metadata
    (their email, else their student id, matched against the roster)."""
    try:
        users = json.loads(metadata_path.read_text()).get("users", [])
    except (OSError, ValueError):
        return None
    for user in users[:1]:
        email = str(user.get("email", "")).strip().lower()
        for student, entry in record["students"].items():
            if email and entry.get("email") == email:
                return student
        sid = str(user.get("sid", "")).strip()
        if sid in record["students"]:
            return sid
    return None


def results_json(result: Result, sandboxed: bool) -> dict:
    """Gradescope's results format: a score, and one test per question with its feedback."""
    chapter_messages = [m for m in result.messages if not QUESTION_MESSAGE.match(m)]
    tests = []
    for question in chapter_questions(result.chapter) if result.maximum else []:
        notes = [m.split(": ", 1)[1] for m in result.messages
                 if m.startswith(f"{question.name}: ")]
        points = result.points.get(question.name, 0.0)
        fallback = "passed" if points == question.points else "see the message above"
        tests.append({"name": question.name, "max_score": question.points,
                      "score": points, "output": "; ".join(notes) or fallback})
    output = " | ".join(chapter_messages)
    if result.flags:
        output = (f"FLAGGED for the instructor: {' | '.join(result.flags)}. " + output).strip()
    if not sandboxed:
        output = ("graded without the sandbox (--unsafe-no-sandbox). " + output).strip()
    return {"score": result.total, "tests": tests, "output": output,
            "visibility": "visible", "stdout_visibility": "hidden"}


def run(references_path: Path, submission_dir: Path, results_path: Path) -> int:
    """Grade the one notebook in ``submission_dir`` and write ``results_path``."""
    config = json.loads(references_path.read_text())
    notebooks = sorted(p for p in submission_dir.rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts)
    if len(notebooks) != 1:
        found = ", ".join(p.name for p in notebooks) or "none"
        payload = {"score": 0, "output": f"submit exactly one .ipynb notebook (found: "
                                         f"{found})", "tests": []}
    else:
        try:
            course = None
            if "course" in config:
                who = submitter(config["course"], submission_dir.parent /
                                "submission_metadata.json")
                if who is None:
                    raise GradingError("your Gradescope account's email or student id is not "
                                       "on the course roster: ask your instructor")
                course = StoredCourse(config["course"], who)
            grader = Grader(sandboxed=config["sandboxed"], references=config["chapters"],
                            course=course)
            (result,) = grader.grade_all(notebooks, jobs=1)
            payload = results_json(result, config["sandboxed"])
        except GradingError as error:
            payload = {"score": 0, "tests": [],
                       "output": f"the autograder cannot grade here: {error}"}
    results_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = results_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=1))
    os.replace(temporary, results_path)
    return 0


if __name__ == "__main__":
    sys.exit(run(*map(Path, sys.argv[1:4])))
