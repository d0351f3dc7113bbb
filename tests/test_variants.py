"""Per-student variants and the course kit: every variant well posed and graded right, a
notebook that is not its submitter's flagged, and the course's secrets kept out of sight."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers.grading import course as course_kit
from helpers.grading.compare import compare
from helpers.grading.encoding import decode
from helpers.grading.grade import Grader, chapter_of, score, solution_path
from helpers.grading.questions import QUESTIONS, chapter_questions
from helpers.grading.variants import (
    book_variant,
    draw,
    format_value,
    mismatches,
    read_variant,
    render,
    variant,
    with_variant,
)
from helpers.grading.worker import run

ROOT = Path(__file__).resolve().parents[1]
SEEDS = 30  # students per chapter in the sweep: every drawn parameter takes several values


# ---------------------------------------------------------------- the parameters themselves
def well_posed(chapter: str, params: dict) -> None:
    """The properties each parameterised question's draw promises (questions.py)."""
    if chapter == "ch1":
        x, y = params["q2"]["point"]
        assert x != 0 and -4 <= x <= 4 and -3 <= y <= 3
    elif chapter == "ch2":
        a = np.sqrt(params["q1"]["k"] / 3)
        assert a >= 1 and a == int(a)  # two distinct critical points, -a and a, integers
    elif chapter == "ch3":
        assert 0.5 <= params["q1"]["t"] <= 3.0
    elif chapter == "ch4":
        w, x, y, z = params["q1"]["point"]
        assert w + x + y + z != 0 and w + x - y - z != 0  # the gradient is not zero
    elif chapter == "ch8":
        a, b = params["q1"]["a"], params["q1"]["b"]
        assert 1 <= min(a, b) and max(a, b) <= 20 and max(a, b) >= 2 * min(a, b)
    elif chapter == "ch10":
        theta = params["q1"]["theta"]
        assert 0.5 <= theta <= 3.0 and 4 * theta == int(4 * theta)  # quarters: exact answers
        assert theta != 1.5  # not the book's own variant
    elif chapter == "ch9":
        assert params["q1"]["fan_in"] >= 16 and 0.01 <= params["q1"]["slope"] <= 0.5
    else:
        assert params == {}


@pytest.mark.parametrize("chapter", sorted(QUESTIONS))
def test_every_variant_is_well_posed_and_seed_0_is_the_book(chapter):
    for seed in range(1, SEEDS + 1):
        well_posed(chapter, draw(chapter, seed))
    assert draw(chapter, 0) == {q.name: q.book for q in chapter_questions(chapter) if q.draw}
    if any(q.draw for q in chapter_questions(chapter)):  # numbers that differ from seed to seed
        assert len({json.dumps(draw(chapter, s)) for s in range(1, SEEDS + 1)}) >= 5


def test_statements_render_each_variants_numbers():
    assert render("at $(x, y) = {{ q2.point }}$", {"q2": {"point": [2, -1]}}) == \
        "at $(x, y) = (2, -1)$"
    assert format_value(0.5) == "0.5" and format_value(3.0) == "3"
    with pytest.raises(KeyError, match=r"q9\.k"):
        render("{{ q9.k }}", {})


def test_the_variant_cell_is_read_and_restored():
    the_variant = variant("ch1", 7, "alice", "sig")
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "source": "import numpy"}]}
    notebook, note = with_variant(notebook, the_variant)
    assert "missing" in note and read_variant(notebook) == the_variant
    notebook["cells"][1]["source"] = notebook["cells"][1]["source"].replace('"seed": 7',
                                                                            '"seed": 8')
    notebook, note = with_variant(notebook, the_variant)
    assert "edited" in note and read_variant(notebook)["seed"] == 7
    book = nbformat.read(ROOT / "exercises" / "01_partial_derivatives.ipynb", as_version=4)
    assert read_variant(book) is None  # book_variant("ch1"): a call, not a literal
    assert with_variant(json.loads(nbformat.writes(book)), book_variant("ch1"))[1] is None


def test_a_claim_that_is_not_the_submitters_is_named():
    mine = variant("ch1", 7, "alice", "s1")
    assert mismatches(mine, {"student": "alice", "seed": 7, "signature": "s1"}) == []
    assert "made for student 'bob'" in mismatches(mine, {"student": "bob", "seed": 9})[0]
    assert "seed" in mismatches(mine, {"student": "alice", "seed": 8, "signature": "s1"})[0]
    assert "signature" in mismatches(mine, {"student": "alice", "seed": 7,
                                            "signature": "forged"})[0]
    assert "no student id" in mismatches(mine, {})[0]


# ---------------------------------------------------------------- the course kit
@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("id,name,email\nalice,Alice,alice@uni.edu\nbob,Bob,bob@uni.edu\n")
    return path


def test_course_init_keeps_the_secret_outside_the_book(tmp_path, roster):
    made = course_kit.init(tmp_path / "course", roster)
    assert made.students == ["alice", "bob"] and len(made.secret) == 64
    assert (tmp_path / "course" / "course.json").stat().st_mode & 0o077 == 0
    with pytest.raises(course_kit.CourseError, match="already holds a course"):
        course_kit.init(tmp_path / "course", roster)
    with pytest.raises(course_kit.CourseError, match="inside the book's repository"):
        course_kit.init(ROOT / "some-course", roster)
    bad = tmp_path / "bad.csv"
    bad.write_text("id\nal ice\nbob\nbob\n")
    with pytest.raises(course_kit.CourseError, match="letters, digits"):
        course_kit.init(tmp_path / "c2", bad)
    bad.write_text("name\nalice\n")
    with pytest.raises(course_kit.CourseError, match="'id' column"):
        course_kit.init(tmp_path / "c3", bad)


def test_seeds_are_keyed_and_files_name_their_student(tmp_path, roster):
    made = course_kit.init(tmp_path / "course", roster)
    other = course_kit.init(tmp_path / "other", roster)
    assert made.seed("alice", "ch1") != made.seed("bob", "ch1")
    assert made.seed("alice", "ch1") != other.seed("alice", "ch1")  # the secret decides
    assert made.seed("alice", "ch1") != made.seed("alice", "ch2")
    assert made.identify(Path("x/alice__01_partial_derivatives.ipynb")) == ("alice", None)
    assert made.identify(Path("bob/homework.ipynb")) == ("bob", None)
    assert made.identify(Path("x/mallory__01.ipynb")) == (None, None)
    # an LMS download: the folder names the submitter, a file name that disagrees is flagged
    student, flag = made.identify(Path("lms/alice/bob__01_partial_derivatives.ipynb"))
    assert student == "alice" and "'bob'" in flag


# ---------------------------------------------------------------- graded right, every variant
def in_process(notebook: dict, chapter: str, cases: dict) -> dict:
    """A notebook's answers, run in this process (our own notebooks only: fast)."""
    path = Path(os.environ["VARIANT_TMP"]) / "notebook.ipynb"
    path.write_text(json.dumps(notebook))
    request = {"questions": [{"name": q.name, "kind": q.kind, "cases": cases[q.name]}
                             for q in chapter_questions(chapter)],
               "cells_timeout": 60, "cell_timeout": 20, "question_timeout": 10}
    return run(str(path), request)


def exercise_twin(chapter: str) -> dict:
    name = solution_path(chapter).with_suffix(".ipynb").name
    return json.loads((ROOT / "exercises" / name).read_text())


def with_answers(notebook: dict, answers: dict[str, str]) -> dict:
    notebook = json.loads(json.dumps(notebook))
    cells = [c for c in notebook["cells"] if "answer" in c["metadata"].get("tags", [])]
    for cell, question in zip(cells, chapter_questions(chapter_of(notebook)), strict=True):
        if question.name in answers:
            cell["source"] = answers[question.name]
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("chapter", sorted(QUESTIONS))
def test_every_variant_grades_the_reference_full_the_blank_zero_and_one_slip_one_question(
        chapter, tmp_path, monkeypatch):
    monkeypatch.setenv("VARIANT_TMP", str(tmp_path))
    monkeypatch.setenv("HELPERS_GRADING_WORKER", "1")  # check() cells stay silent
    questions = chapter_questions(chapter)
    cases = {q.name: [list(c) for c in q.cases()] for q in questions}
    public = {q.name: len(q.cases()) for q in questions}
    solution = json.loads(nbformat.writes(jupytext_notebook(solution_path(chapter))))
    solved_cells = [c["source"] for c in solution["cells"]
                    if "answer" in c["metadata"].get("tags", [])]
    perfect = {q.name: src for q, src in zip(questions, solved_cells, strict=True)}
    maximum = sum(q.points for q in questions)
    seeds = range(1, SEEDS + 1) if any(q.draw for q in questions) else [0]
    book_answers = in_process(with_variant(solution, book_variant(chapter))[0], chapter,
                              cases)["answers"]
    for seed in seeds:
        the_variant = variant(chapter, seed)
        expected = in_process(with_variant(solution, the_variant)[0], chapter, cases)["answers"]
        student = with_variant(exercise_twin(chapter), the_variant)[0]

        def points(answers, student=student, expected=expected):
            outcome = in_process(with_answers(student, answers), chapter, cases)
            return score(chapter, questions, cases, expected, outcome, public)[0]

        assert sum(points(perfect).values()) == maximum, (chapter, seed)
        if seed in seeds[:3]:
            assert sum(points({}).values()) == 0, (chapter, seed)  # the blank notebook
        slip = questions[seed % len(questions)].name  # that answer left as the stub
        got = points({name: src for name, src in perfect.items() if name != slip})
        assert got[slip] == 0 and all(got[q.name] == q.points for q in questions
                                      if q.name != slip), (chapter, seed, got)
        for question in questions:  # the book's own answer, copied, fails another variant
            book_answer = book_answers[question.name][0]
            if question.draw and not compare(decode(expected[question.name][0]),
                                             decode(book_answer), question.kind)[0]:
                value = decode(book_answer)
                literal = value.tolist() if hasattr(value, "tolist") else value
                copied = {**perfect, question.name: f"{question.name} = {literal!r}"}
                assert points(copied)[question.name] == 0, (chapter, seed, question.name)


def jupytext_notebook(path: Path):
    import jupytext

    return jupytext.read(path)


# ---------------------------------------------------------------- a class, end to end
@pytest.mark.slow
def test_a_class_gets_its_own_numbers_and_swaps_and_edits_are_flagged(tmp_path, roster):
    made = course_kit.init(tmp_path / "course", roster)
    (made.folder / "hidden_cases.json").write_text('{"ch1": {"q1": [[[123.4567, -7.891]]]}}')
    made = course_kit.Course.load(made.folder)
    grader = Grader(course=made)
    notebooks = course_kit.write_notebooks(made, grader, tmp_path / "out", ["ch1"], ROOT)
    alice, bob = (json.loads(p.read_text()) for p in sorted(notebooks))
    # two students, two variants; their statements differ wherever their numbers do (ch1 has
    # one parameterised question, q2, whose point of few integers two seeds can share)
    from helpers.grading.variants import read_variant

    mine, theirs = read_variant(alice), read_variant(bob)
    assert mine["seed"] != theirs["seed"] and mine["signature"] != theirs["signature"]
    statement = [c["source"] for c in alice["cells"] if "A partial derivative" in c["source"]]
    other = [c["source"] for c in bob["cells"] if "A partial derivative" in c["source"]]
    assert (statement != other) == (mine["params"] != theirs["params"])
    assert "{{" not in json.dumps(alice) and "variant_template" not in json.dumps(alice)
    for text in (p.read_text() for p in notebooks):
        assert made.secret not in text and "123.4567" not in text  # nor the course's cases
    solution = nbformat.read(ROOT / "solutions" / "01_partial_derivatives.ipynb",
                             as_version=4)
    answers = {q.name: c.source for q, c in zip(
        chapter_questions("ch1"),
        [c for c in solution.cells if "answer" in c.metadata.get("tags", [])], strict=True)}
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    solved = with_answers(alice, answers)
    (submissions / "alice__01.ipynb").write_text(json.dumps(solved))
    (submissions / "bob__01.ipynb").write_text(json.dumps(solved))  # bob hands in alice's
    edited = json.loads(json.dumps(with_answers(bob, answers)))
    edited["metadata"]["grading"]["seed"] += 1
    (submissions / "bob__edited.ipynb").write_text(json.dumps(edited))
    # a hostile answer that looks for the course's secret from inside the sandbox
    snoop = with_answers(bob, {
        "q2": f"q2 = open({str(made.folder / 'course.json')!r}).read()",
        "q4": f"q4 = open({str(made.folder / 'hidden_cases.json')!r}).read()"})
    (submissions / "bob__snoop.ipynb").write_text(json.dumps(snoop))
    results = {Path(r.submission).stem: r
               for r in grader.grade_all(sorted(submissions.glob("*.ipynb")), jobs=2)}
    assert results["alice__01"].total == results["alice__01"].maximum
    assert results["alice__01"].flags == []
    assert "made for student 'alice'" in results["bob__01"].flags[0]
    assert "seed" in results["bob__edited"].flags[0]
    assert results["bob__snoop"].points["q2"] == results["bob__snoop"].points["q4"] == 0
    assert any("No such file" in m or "FileNotFoundError" in m
               for m in results["bob__snoop"].messages)  # the course is not in its view
    assert made.secret not in json.dumps([r.__dict__ for r in results.values()])


def test_the_course_hidden_cases_join_the_books_for_function_questions_only(tmp_path, roster):
    from helpers.grading.grade import GradingError

    made = course_kit.init(tmp_path / "course", roster)
    (made.folder / "hidden_cases.json").write_text('{"ch1": {"q1": [[[5.0, -2.0]]]}}')
    grader = Grader(course=course_kit.Course.load(made.folder), sandboxed=False)
    assert grader.cases("ch1")["q1"][-1] == [[5.0, -2.0]]
    (made.folder / "hidden_cases.json").write_text('{"ch1": {"q2": [[1.0]]}}')
    grader = Grader(course=course_kit.Course.load(made.folder), sandboxed=False)
    with pytest.raises(GradingError, match="function questions"):
        grader.cases("ch1")
