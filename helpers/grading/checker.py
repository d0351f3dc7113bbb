"""Instant feedback on the public cases, from what ships with the package (no solutions)."""

from __future__ import annotations

import os
import sys

from helpers.grading import public
from helpers.grading.answers import evaluate
from helpers.grading.compare import compare
from helpers.grading.encoding import decode
from helpers.grading.questions import Question, chapter_questions
from helpers.grading.variants import read_variant


def feedback(chapter: str, question: Question, answers: list,
             expected: dict | None = None) -> tuple[float | None, str]:
    """(points on the public cases, message) for a question's encoded answers; points are
    None for a question checked only when graded (see :mod:`helpers.grading.public`)."""
    expected = expected if expected is not None else public.load()
    if question.name not in expected.get(chapter, {}):  # a question newer than the file
        raise KeyError(f"{public.PUBLIC_EXPECTED.name} has no public answers for {chapter} "
                       f"{question.name}: run `python -m helpers.grading expected` (or `make "
                       "notebooks`) after adding or changing a question, then run this again")
    want = expected[chapter][question.name]
    if question.kind == "choice":
        got = answers[0]
        if not isinstance(got, str):  # no answer, an error, not a letter: compare says which
            return None, compare("", got, "choice")[1]
        return None, (f"recorded {got.strip()!r}; multiple-choice answers are checked when "
                      "your notebook is graded")
    if question.kind == "value":
        ok, message = public.check_value(want, expected["salt"], f"{chapter}.{question.name}",
                                         decode(answers[0]))
        return (None if ok is None else question.points if ok else 0.0), message
    passed, messages = 0, []  # the grader's own comparison, on the same rounded outputs
    for case, value, got in zip(question.cases(), want, answers, strict=True):
        ok, message = compare(decode(value), decode(got), question.kind, f"at input {case}")
        passed += ok
        if not ok and message not in messages:
            messages.append(message)
    total = len(want)
    if passed == total:
        return question.points, "passed" + (f" ({total} public cases)" if total > 1 else "")
    return question.points * passed / total, "; ".join(messages)


def expected_for(chapter: str, question: Question, the_variant, package: dict
                 ) -> tuple[dict, str | None]:
    """What to check a question against: the package's public answers (the book's own
    variant), or those a course notebook's ``VARIANT`` carries for its own numbers; and a
    message instead where neither applies."""
    if question.draw is None or not isinstance(the_variant, dict) or \
            the_variant.get("seed", 0) == 0:
        return package, None
    if the_variant.get("chapter") != chapter:
        return package, (f"VARIANT is for {the_variant.get('chapter')!r}, not {chapter}: run "
                         "this notebook's own variant cell")
    carried = the_variant.get("public", {})
    if question.name not in carried or "salt" not in carried:
        return package, ("your variant carries no public answer for this question; it is "
                         "checked when your notebook is graded")
    return {"salt": carried["salt"], chapter: {question.name: carried[question.name]}}, None


class Checker:
    """``check = Checker("ch1")`` then ``check("q1")`` after answering question 1."""

    def __init__(self, chapter: str):
        self.chapter = chapter
        self.questions = {q.name: q for q in chapter_questions(chapter)}
        self.expected = public.load()  # read once, not at every check
        self.results: dict[str, tuple[float | None, str]] = {}

    def __call__(self, name: str) -> None:
        if os.environ.get("HELPERS_GRADING_WORKER"):
            return  # inside the grader's worker, checks are silent
        if name not in self.questions:
            print(f"{name}: there is no such question in {self.chapter}; questions are "
                  f"{', '.join(self.questions)}")
            return
        question = self.questions[name]
        namespace = sys._getframe(1).f_globals  # the notebook's variables
        expected, problem = expected_for(self.chapter, question, namespace.get("VARIANT"),
                                         self.expected)
        if problem:
            self.results[name] = (None, problem)
        else:
            answers = evaluate(namespace, name, question.kind, question.cases())
            self.results[name] = feedback(self.chapter, question, answers, expected)
        print(f"{name}: {self.results[name][1]}")

    def score(self) -> None:
        """Print the running score on the public cases."""
        checked = [q for q in self.questions.values() if q.kind != "choice"]
        total = sum(q.points for q in checked)
        got = sum(self.results.get(q.name, (0.0, ""))[0] or 0.0 for q in checked)
        print(f"Score on the public cases: {got:g} / {total:g}"
              + (" (multiple-choice answers are checked when graded)"
                 if len(checked) < len(self.questions) else ""))
        for name, question in self.questions.items():
            points, text = self.results.get(name, (0.0, "not checked yet"))
            shown = "-" if question.kind == "choice" else f"{points:g} / {question.points:g}"
            print(f"  {name}: {shown}  {text}")


def check_notebook(path, chapter: str | None = None) -> tuple[float, float, list[str]]:
    """Run a notebook file on the public cases (a plain process: it is the student's own
    notebook, on their own machine) and give (points, of the checkable maximum, lines)."""
    import json

    from helpers.grading.grade import GradingError
    from helpers.grading.questions import QUESTIONS
    from helpers.grading.runner import Limits, run_notebook
    from helpers.grading.submission import parse, read_file

    try:
        submission = parse(read_file(path), QUESTIONS)
    except (OSError, ValueError) as error:  # not a file, or Refused: says what is wrong
        raise GradingError(f"cannot check {path}: {error}") from None
    chapter = chapter or submission.chapter
    data = json.dumps(submission.notebook).encode()
    if chapter is None:
        raise GradingError(f"cannot tell which chapter {path} is (its metadata has no "
                           "grading.chapter); pass --chapter")
    questions = chapter_questions(chapter)
    outcome = run_notebook(data, questions, {q.name: q.cases() for q in questions}, Limits(),
                           sandboxed=False)
    if "fatal" in outcome:
        return 0.0, 0.0, [outcome["fatal"]]
    package, lines, points, maximum = public.load(), [], 0.0, 0.0
    the_variant = read_variant(submission.notebook)
    for question in questions:
        expected, problem = expected_for(chapter, question, the_variant, package)
        got, text = (None, problem) if problem else feedback(
            chapter, question, outcome["answers"][question.name], expected)
        lines.append(f"{question.name}: {text}")
        if got is not None:
            points, maximum = points + got, maximum + question.points
    lines += [f"errors while running: {error}" for error in outcome["cell_errors"][:3]]
    return points, maximum, lines
