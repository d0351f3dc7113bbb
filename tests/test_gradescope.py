"""The Gradescope autograder: built from this repository, run against a simulated
/autograder tree the way Gradescope runs it (run_autograder, one submission per run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from helpers.grading.__main__ import main as grading_cli
from helpers.grading.grade import solution_path
from helpers.grading.questions import QUESTIONS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradescope")
    archive = base / "autograder.zip"
    assert grading_cli(["gradescope", "--out", str(archive), "--chapter", "ch1"]) == 0
    source = base / "autograder" / "source"
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zipped.infolist()}
        zipped.extractall(source)
    for name in ("setup.sh", "run_autograder"):
        (source / name).chmod(modes[name] & 0o777)
    return base / "autograder", names, modes


def grade(root: Path, notebook: Path) -> dict:
    submission = root / "submission"
    if submission.exists():
        for old in submission.iterdir():
            old.unlink()
    submission.mkdir(exist_ok=True)
    (submission / "my_work.ipynb").write_bytes(notebook.read_bytes())
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, check=True,
                   timeout=300)
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_has_gradescopes_layout_and_no_solutions(autograder):
    root, names, modes = autograder
    assert {"setup.sh", "run_autograder", "references.json"} <= set(names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not [n for n in names if n.startswith("solutions/") or "hidden_cases" in n]
    references = json.loads((root / "source" / "references.json").read_text())
    cases = references["chapters"]["ch1"]["cases"]["q1"]
    public = next(q for q in QUESTIONS["ch1"] if q.name == "q1").cases()
    assert len(cases) > len(public)  # the hidden cases travel with the autograder
    assert "bubblewrap" in (root / "source" / "setup.sh").read_text()


def test_run_autograder_scores_each_submission(autograder, tmp_path):
    root, _, _ = autograder
    solved = grade(root, solution_path("ch1").with_suffix(".ipynb"))
    points = [q.points for q in QUESTIONS["ch1"]]
    assert solved["score"] == sum(points) and [t["score"] for t in solved["tests"]] == points
    blank = grade(root, ROOT / "exercises" / "01_partial_derivatives.ipynb")
    assert blank["score"] == 0
    assert all("not answered yet" in t["output"] for t in blank["tests"])
    wrong = nbformat.read(solution_path("ch1").with_suffix(".ipynb"), as_version=4)
    wrong.cells.append(nbformat.v4.new_code_cell("q2 = 4.0"))
    nbformat.write(wrong, tmp_path / "wrong.ipynb")
    result = grade(root, tmp_path / "wrong.ipynb")
    by_name = {t["name"]: t for t in result["tests"]}
    assert result["score"] == sum(points) - 1 and by_name["q2"]["score"] == 0  # q2: 1 point
    assert by_name["q2"]["output"] != "passed"


def test_a_notebook_of_another_chapter_or_none_gets_a_message(autograder, tmp_path):
    root, _, _ = autograder
    other = grade(root, solution_path("ch2").with_suffix(".ipynb"))
    assert other["score"] == 0
    assert "notebook of ch2; this assignment grades ch1" in other["output"]
    (root / "submission").mkdir(exist_ok=True)
    for old in (root / "submission").iterdir():
        old.unlink()
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, check=True)
    empty = json.loads((root / "results" / "results.json").read_text())
    assert empty["score"] == 0 and "exactly one .ipynb" in empty["output"]


def test_a_course_autograder_grades_each_student_against_their_own_variant(tmp_path):
    """The zip carries every student's variant and references, not the course's secret;
    Gradescope's submission metadata (email, else student id) says whose work it is."""
    from helpers.grading import course as course_kit
    from helpers.grading.grade import Grader

    roster = tmp_path / "roster.csv"
    roster.write_text("id,email\nalice,Alice@Uni.edu\nbob,bob@uni.edu\n")
    made = course_kit.init(tmp_path / "course", roster)
    archive = tmp_path / "autograder.zip"
    assert grading_cli(["gradescope", "--course", str(made.folder), "--out", str(archive),
                        "--chapter", "ch1"]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as zipped:
        modes = {i.filename: i.external_attr >> 16 for i in zipped.infolist()}
        zipped.extractall(root / "source")
        assert made.secret not in zipped.read("references.json").decode()
    (root / "source" / "run_autograder").chmod(modes["run_autograder"] & 0o777)
    handed_out = course_kit.write_notebooks(made, Grader(course=made), tmp_path / "out",
                                            ["ch1"], ROOT)
    solution = nbformat.read(solution_path("ch1").with_suffix(".ipynb"), as_version=4)
    answers = [c.source for c in solution.cells if "answer" in c.metadata.get("tags", [])]
    alice = nbformat.read(handed_out[0], as_version=4)
    for cell, answer in zip([c for c in alice.cells if "answer" in c.metadata.get("tags", [])],
                            answers, strict=True):
        cell.source = answer
    solved = tmp_path / "alice.ipynb"
    nbformat.write(alice, solved)

    def as_user(user: dict) -> dict:
        (root / "submission_metadata.json").write_text(json.dumps({"users": [user]}))
        return grade(root, solved)

    mine = as_user({"email": "alice@uni.edu", "sid": ""})
    assert mine["score"] == 10 and "FLAGGED" not in mine["output"]
    handed_to_bob = as_user({"email": "someone@else.org", "sid": "bob"})
    assert "FLAGGED" in handed_to_bob["output"] and "made for student 'alice'" in \
        handed_to_bob["output"]
    stranger = as_user({"email": "eve@else.org", "sid": "eve"})
    assert stranger["score"] == 0 and "not on the course roster" in stranger["output"]
