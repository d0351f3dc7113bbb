"""Instant feedback inside an exercise notebook, from the public cases only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from helpers.grading.answers import evaluate
from helpers.grading.compare import compare
from helpers.grading.encoding import decode
from helpers.grading.questions import chapter_questions

PUBLIC_EXPECTED = Path(__file__).with_name("public_expected.json")


def load_public_expected() -> dict:
    """Expected answers on the public cases, generated from the reference solutions."""
    return json.loads(PUBLIC_EXPECTED.read_text())


class Checker:
    """``check = Checker("ch1")`` then ``check("q1")`` after answering question 1."""

    def __init__(self, chapter: str):
        self.chapter = chapter
        self.questions = {q.name: q for q in chapter_questions(chapter)}
        self.expected = load_public_expected()[chapter]  # read once, not at every check
        self.results: dict[str, tuple[float, str]] = {}

    def __call__(self, name: str) -> None:
        if os.environ.get("HELPERS_GRADING_WORKER"):
            return  # inside the grader's worker, checks are silent
        if name not in self.questions:
            print(f"{name}: there is no such question in {self.chapter}; questions are "
                  f"{', '.join(self.questions)}")
            return
        question = self.questions[name]
        namespace = sys._getframe(1).f_globals  # the notebook's variables
        expected = self.expected[name]
        passed, messages = 0, []
        answers = evaluate(namespace, name, question.kind, question.cases())
        for case, want, got in zip(question.cases(), expected, answers, strict=True):
            where = f"at input {case}" if question.kind == "function" else ""
            ok, message = compare(decode(want), decode(got), question.kind, where)
            passed += ok
            if not ok and message not in messages:
                messages.append(message)
        total = len(expected)
        points = question.points * passed / total
        if passed == total:
            text = "passed" + (f" ({total} public cases)" if total > 1 else "")
        else:
            text = "; ".join(messages)
        self.results[name] = (points, text)
        print(f"{name}: {text}")

    def score(self) -> None:
        """Print the running score on the public cases."""
        total = sum(q.points for q in self.questions.values())
        got = sum(points for points, _ in self.results.values())
        print(f"Score on the public cases: {got:g} / {total:g}")
        for name in self.questions:
            points, text = self.results.get(name, (0.0, "not checked yet"))
            print(f"  {name}: {points:g} / {self.questions[name].points:g}  {text}")
