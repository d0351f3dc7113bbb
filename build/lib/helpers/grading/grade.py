"""Grade notebooks: run each in a worker, compare its answers in this (trusted) process."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from helpers.grading.compare import compare
from helpers.grading.encoding import decode
from helpers.grading.questions import QUESTIONS, Question, chapter_questions
from helpers.grading.runner import Limits, run_notebook

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
HIDDEN_CASES = SOLUTIONS / "hidden_cases.json"
# Files a hostile submission might try to rewrite; checked (and restored) after each run.
PROTECTED = [Path(__file__).parent, SOLUTIONS, ROOT / "tests"]


class GradingError(RuntimeError):
    """The grader itself cannot work (e.g. a reference solution fails)."""


@dataclass
class Result:
    submission: str
    chapter: str = ""
    points: dict[str, float] = field(default_factory=dict)
    maximum: float = 0.0
    messages: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(self.points.values()), 3)


def notebook_bytes(path: Path) -> bytes:
    """The notebook as .ipynb bytes (MyST .md sources are converted, for the solutions)."""
    if path.suffix == ".md":
        import jupytext

        return jupytext.writes(jupytext.read(path), fmt="ipynb").encode()
    return path.read_bytes()


def chapter_of(notebook: dict) -> str | None:
    chapter = notebook.get("metadata", {}).get("grading", {}).get("chapter")
    return chapter if chapter in QUESTIONS else None


def solution_path(chapter: str) -> Path:
    matches = [p for p in sorted(SOLUTIONS.glob("*.md"))
               if f"chapter: {chapter}\n" in p.read_text()]
    if len(matches) != 1:
        raise GradingError(f"expected one solution notebook for {chapter} in {SOLUTIONS}, "
                           f"found {len(matches)}")
    return matches[0]


def all_cases(chapter: str, hidden: bool) -> dict[str, list]:
    cases = {q.name: [list(c) for c in q.cases()] for q in chapter_questions(chapter)}
    if hidden:
        extra = json.loads(HIDDEN_CASES.read_text()).get(chapter, {}) \
            if HIDDEN_CASES.exists() else {}
        for name, more in extra.items():
            cases[name] = cases[name] + more
    return cases


def reference_answers(chapter: str, hidden: bool, limits: Limits) -> dict[str, list]:
    """Expected answers: the reference solution, run exactly as a submission is."""
    questions = chapter_questions(chapter)
    result = run_notebook(notebook_bytes(solution_path(chapter)), questions,
                          all_cases(chapter, hidden), limits)
    if "fatal" in result or result["cell_errors"]:
        raise GradingError(f"the reference solution of {chapter} fails: "
                           f"{result.get('fatal') or result['cell_errors']}")
    for name, answers in result["answers"].items():
        bad = [a for a in answers if a is None or (isinstance(a, dict) and "error" in a)]
        if bad:
            raise GradingError(f"the reference solution of {chapter} gives no answer to "
                               f"{name}: {bad[0]}")
    return result["answers"]


def score(chapter: str, questions: list[Question], cases: dict, expected: dict,
          result: dict, public_count: dict[str, int]) -> tuple[dict, list[str]]:
    points, messages = {}, []
    if "fatal" in result:
        return {q.name: 0.0 for q in questions}, [result["fatal"]]
    for question in questions:
        answers = result["answers"].get(question.name, [])
        passed, notes = 0, []
        for k, (case, want) in enumerate(zip(cases[question.name], expected[question.name],
                                             strict=True)):
            got = answers[k] if k < len(answers) else {"error": "no answer"}
            public = k < public_count[question.name]
            where = f"at input {case}" if question.kind == "function" and public else ""
            ok, message = compare(decode(want), decode(got), question.kind, where,
                                  reveal=public)
            passed += ok
            if not ok and message not in notes:
                notes.append(message)
        points[question.name] = round(question.points * passed / len(expected[question.name]),
                                      3)
        if notes:
            messages.append(f"{question.name}: " + "; ".join(notes[:2]))
    return points, messages


def _snapshot() -> dict[Path, bytes]:
    files = {}
    for base in PROTECTED:
        for path in base.rglob("*") if base.is_dir() else [base]:
            if path.is_file() and "__pycache__" not in path.parts:
                files[path] = path.read_bytes()
    return files


def _restore(snapshot: dict[Path, bytes]) -> list[str]:
    changed = []
    for path, data in snapshot.items():
        try:
            same = path.read_bytes() == data
        except OSError:
            same = False
        if not same:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            changed.append(str(path.relative_to(ROOT)))
    return changed


class Grader:
    """Grades many submissions; one bad submission never stops the batch."""

    def __init__(self, chapter: str | None = None, hidden: bool = True,
                 limits: Limits | None = None):
        self.chapter, self.hidden, self.limits = chapter, hidden, limits or Limits()
        self._expected: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._snapshot = _snapshot()

    def expected(self, chapter: str) -> dict:
        with self._lock:
            if chapter not in self._expected:
                self._expected[chapter] = reference_answers(chapter, self.hidden, self.limits)
            return self._expected[chapter]

    def grade(self, path: Path) -> Result:
        result = Result(submission=str(path))
        try:
            original = path.read_bytes()
        except OSError as error:
            result.messages.append(f"cannot read the file: {error}")
            return result
        digest = hashlib.sha256(original).hexdigest()
        try:
            self._grade_bytes(original, result)
        except GradingError:
            raise
        except Exception as error:  # report it on this row, go on with the batch
            result.messages.append(f"grader error: {type(error).__name__}: {error}")
        finally:
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                path.write_bytes(original)  # never lose a submission
                result.messages.append("the submission file was changed during grading and "
                                       "has been restored")
            with self._lock:
                touched = _restore(self._snapshot)
            if touched:
                result.points = dict.fromkeys(result.points, 0.0)
                result.messages.append("tried to modify grading files (restored): "
                                       + ", ".join(touched[:3]))
        return result

    def _grade_bytes(self, data: bytes, result: Result) -> None:
        try:
            notebook = json.loads(data)
            if not isinstance(notebook, dict) or "cells" not in notebook:
                raise ValueError("no cells")
        except ValueError as error:
            result.messages.append(f"not a valid notebook (.ipynb JSON): {error}")
            self._zero(result, self.chapter)
            return
        chapter = chapter_of(notebook)
        if self.chapter and chapter and chapter != self.chapter:
            result.chapter = chapter
            result.messages.append(f"this is the notebook of {chapter}, not {self.chapter}: "
                                   "submit the right exercise notebook")
            self._zero(result, self.chapter)
            return
        chapter = chapter or self.chapter
        if chapter is None:
            result.messages.append("cannot tell which chapter this notebook is (its metadata "
                                   "has no grading.chapter); pass --chapter")
            return
        result.chapter = chapter
        questions = chapter_questions(chapter)
        cases = all_cases(chapter, self.hidden)
        public = {q.name: len(q.cases()) for q in questions}
        expected = self.expected(chapter)
        outcome = run_notebook(data, questions, cases, self.limits)
        result.points, result.messages = score(chapter, questions, cases, expected, outcome,
                                               public)
        result.maximum = sum(q.points for q in questions)
        if outcome.get("cell_errors"):
            result.messages.append("errors while running: "
                                   + "; ".join(outcome["cell_errors"][:3]))

    @staticmethod
    def _zero(result: Result, chapter: str | None) -> None:
        if chapter:
            questions = chapter_questions(chapter)
            result.points = {q.name: 0.0 for q in questions}
            result.maximum = sum(q.points for q in questions)

    def grade_all(self, paths: list[Path], jobs: int | None = None,
                  progress: bool = False) -> list[Result]:
        jobs = jobs or os.cpu_count() or 1
        if self.chapter:
            self.expected(self.chapter)  # fail fast if the reference is broken
        results: dict[Path, Result] = {}
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(self.grade, path): path for path in paths}
            for done, future in enumerate(as_completed(futures), 1):
                results[futures[future]] = future.result()
                if progress:
                    width = 30
                    filled = width * done // len(paths)
                    sys.stderr.write(f"\rgrading [{'#' * filled}{'.' * (width - filled)}] "
                                     f"{done}/{len(paths)}")
                    sys.stderr.flush()
        if progress:
            sys.stderr.write("\n")
        return [results[p] for p in paths]
