"""Grade notebooks: run each in a sandboxed worker, compare its answers in this (trusted)
process, against reference answers computed before any submission runs."""

from __future__ import annotations

import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from helpers.grading import public as public_answers
from helpers.grading.compare import compare
from helpers.grading.encoding import decode
from helpers.grading.questions import QUESTIONS, Question, chapter_questions
from helpers.grading.runner import Limits, run_notebook
from helpers.grading.sandbox import SandboxUnavailable, probe
from helpers.grading.submission import Refused, parse, read_file
from helpers.grading.variants import book_variant, mismatches, variant, with_variant

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
HIDDEN_CASES = SOLUTIONS / "hidden_cases.json"


class GradingError(RuntimeError):
    """The grader itself cannot work (e.g. a reference solution fails)."""


@dataclass
class Result:
    submission: str
    chapter: str = ""
    points: dict[str, float] = field(default_factory=dict)
    maximum: float = 0.0
    messages: list[str] = field(default_factory=list)
    student: str = ""  # with a course: whose variant it was graded against
    flags: list[str] = field(default_factory=list)  # with a course: why it looks not theirs

    @property
    def total(self) -> float:
        return round(sum(self.points.values()), 3)


def notebook_bytes(path: Path) -> bytes:
    """The notebook as .ipynb bytes (MyST .md sources are converted, for the solutions)."""
    if path.suffix == ".md":
        import jupytext

        return jupytext.writes(jupytext.read(path), fmt="ipynb").encode()
    return path.read_bytes()


def chapter_of(notebook: object) -> str | None:
    """The chapter a notebook's metadata names, if it names one (any JSON is accepted)."""
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    grading = metadata.get("grading") if isinstance(metadata, dict) else None
    chapter = grading.get("chapter") if isinstance(grading, dict) else None
    return chapter if isinstance(chapter, str) and chapter in QUESTIONS else None


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


def reference_answers(chapter: str, hidden: bool, limits: Limits, sandboxed: bool = True,
                      the_variant: dict | None = None,
                      cases: dict[str, list] | None = None) -> dict[str, list]:
    """Expected answers: the reference solution, run exactly as a submission is, with the
    variant's cell (default: the book's own) and on ``cases`` (default: the book's)."""
    return reference_answers_of(chapter, hidden, limits, sandboxed,
                                [the_variant or book_variant(chapter)], cases)[0]


def reference_answers_of(chapter: str, hidden: bool, limits: Limits, sandboxed: bool,
                         variants: list[dict], cases: dict[str, list] | None = None
                         ) -> list[dict[str, list]]:
    """The expected answers of several variants: the reference solution run once per
    variant, all in one sandboxed process (its start-up is most of the time)."""
    questions = chapter_questions(chapter)
    notebook, _ = with_variant(json.loads(notebook_bytes(solution_path(chapter))), variants[0])
    outcome = run_notebook(json.dumps(notebook).encode(), questions,
                           cases or all_cases(chapter, hidden), limits, sandboxed, variants)
    if "fatal" in outcome:
        raise GradingError(f"the reference solution of {chapter} fails: {outcome['fatal']}")
    answers = []
    for the_variant, result in zip(variants, outcome["runs"], strict=True):
        where = f"{chapter} (seed {the_variant['seed']})"
        if result["cell_errors"]:
            raise GradingError(f"the reference solution of {where} fails: "
                               f"{result['cell_errors']}")
        for name, got in result["answers"].items():
            bad = [a for a in got if a is None or (isinstance(a, dict) and "error" in a)]
            if bad:
                raise GradingError(f"the reference solution of {where} gives no answer to "
                                   f"{name}: {bad[0]}")
        answers.append(result["answers"])
    return answers


def score(chapter: str, questions: list[Question], cases: dict, expected: dict,
          result: dict, public_count: dict[str, int]) -> tuple[dict, list[str]]:
    """Points and messages. Expected outputs are compared as the package ships them
    (rounded to 12 digits), so that the grade and ``check`` agree on the public cases; what
    a message may say is :mod:`helpers.grading.compare`'s rule."""
    points, messages = {}, []
    if "fatal" in result:
        return {q.name: 0.0 for q in questions}, [result["fatal"]]
    for question in questions:
        answers = result["answers"].get(question.name, [])
        answers = answers if isinstance(answers, list) else []
        passed, notes, hidden = 0, [], []
        for k, (case, want) in enumerate(zip(cases[question.name], expected[question.name],
                                             strict=True)):
            got = answers[k] if k < len(answers) else {"error": "no answer"}
            public = k < public_count[question.name]
            where = f"at input {case}" if question.kind == "function" else ""
            ok, message = compare(decode(public_answers.rounded(want)), decode(got),
                                  question.kind, where, reveal=public)
            passed += ok
            failures = notes if public else hidden
            if not ok and message not in failures:
                failures.append(message)
        points[question.name] = round(question.points * passed / len(expected[question.name]),
                                      3)
        if notes or hidden:  # two public failures at most; how hidden cases failed, always
            messages.append(f"{question.name}: " + "; ".join(notes[:2] + hidden))
    return points, messages


class Grader:
    """Grades many submissions; one bad submission never stops the batch.

    Every notebook, the reference solutions included, runs in the sandbox of
    :mod:`helpers.grading.sandbox`; ``sandboxed=False`` (the CLI's --unsafe-no-sandbox) runs
    them as plain processes, where a submission can read and change anything the grader can.
    """

    def __init__(self, chapter: str | None = None, hidden: bool = True,
                 limits: Limits | None = None, sandboxed: bool = True,
                 references: dict[str, dict] | None = None, course=None):
        """``references`` (chapter, or "chapter/seed" for a student's variant -> {"cases",
        "expected"}), when given, replaces running the reference solutions: an exported
        autograder carries them, not solutions/. ``course`` (a :class:`Course`, or an
        exported autograder's record of one) grades each submission against the variant of
        the student who submitted it."""
        self.chapter, self.hidden, self.limits = chapter, hidden, limits or Limits()
        self.sandboxed, self.references, self.course = sandboxed, references, course
        if sandboxed:
            try:
                probe()
            except SandboxUnavailable as error:
                raise GradingError(str(error)) from None
        self._expected: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def cases(self, chapter: str) -> dict[str, list]:
        """Every case of a chapter: the book's public and hidden ones, and the course's."""
        if self.references is not None:  # every variant of a chapter has the same cases
            key = next((k for k in sorted(self.references) if k.split("/")[0] == chapter),
                       chapter)
            return self._referenced(key)["cases"]
        cases = all_cases(chapter, self.hidden)
        extra = self.course.hidden.get(chapter, {}) if self.course is not None else {}
        functions = {q.name for q in chapter_questions(chapter) if q.kind == "function"}
        for name, more in extra.items():
            if name not in functions or not isinstance(more, list):
                raise GradingError(f"the course's hidden cases name {chapter} {name}: hidden "
                                   f"cases are lists of argument lists, for the function "
                                   f"questions ({', '.join(sorted(functions))})")
            cases[name] = cases[name] + more
        return cases

    def _referenced(self, key: str) -> dict:
        if key not in self.references:
            chapters = sorted({k.split("/")[0] for k in self.references})
            raise GradingError(f"this autograder has no answers for {key}; it grades "
                               f"{', '.join(chapters)}")
        return self.references[key]

    def expected(self, chapter: str, seed: int = 0) -> dict:
        """The reference answers of a chapter's variant, computed once and then held here
        (a lock per variant: other variants' references run meanwhile)."""
        key = chapter if seed == 0 else f"{chapter}/{seed}"
        if self.references is not None:
            return self._referenced(key)["expected"]
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._expected:
                self._expected[key] = reference_answers(
                    chapter, self.hidden, self.limits, self.sandboxed,
                    variant(chapter, seed) if seed else None, self.cases(chapter))
            return self._expected[key]

    def pin(self, chapter: str, seeds: set[int], jobs: int) -> None:
        """Compute the reference answers of many variants at once, in ``jobs`` sandboxed
        processes, each running the reference solution for its share of the seeds."""
        missing = sorted(s for s in seeds if s and f"{chapter}/{s}" not in self._expected)
        if not missing or self.references is not None:
            return
        shares = [missing[k::jobs] for k in range(min(jobs, len(missing)))]
        cases = self.cases(chapter)
        with ThreadPoolExecutor(max_workers=len(shares)) as pool:
            found = pool.map(lambda share: reference_answers_of(
                chapter, self.hidden, self.limits, self.sandboxed,
                [variant(chapter, seed) for seed in share], cases), shares)
            for share, answers in zip(shares, found, strict=True):
                for seed, expected in zip(share, answers, strict=True):
                    with self._lock:
                        self._expected.setdefault(f"{chapter}/{seed}", expected)

    def canonicals(self, pairs: list[tuple[str, str]], jobs: int | None = None) -> list[dict]:
        """``canonical`` for many (student, chapter) pairs: their reference answers first,
        many variants to a sandboxed process (see ``pin``)."""
        jobs = jobs or os.cpu_count() or 1
        for chapter in sorted({chapter for _, chapter in pairs}):
            self.pin(chapter, {self.course.seed(s, c) for s, c in pairs if c == chapter}, jobs)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(lambda pair: self.canonical(*pair), pairs))

    def canonical(self, student: str, chapter: str) -> dict:
        """The variant the course handed ``student`` for ``chapter``: the very dict of their
        notebook's variant cell, public answers included."""
        if hasattr(self.course, "canonical"):  # an exported autograder's stored record
            return self.course.canonical(student, chapter)
        seed = self.course.seed(student, chapter)
        expected = self.expected(chapter, seed)
        salt = self.course.salt(student, chapter)
        public = {"salt": salt}
        for question in chapter_questions(chapter):
            if question.draw is not None:
                answers = expected[question.name][:len(question.cases())]
                public[question.name] = public_answers.entry(question.kind, answers, salt,
                                                             f"{chapter}.{question.name}",
                                                             digests=False)
        return self.course.variant(student, chapter, public)

    def grade(self, path: Path) -> Result:
        result = Result(submission=str(path))
        try:
            data = read_file(path)
        except OSError as error:
            result.messages.append(f"cannot grade {path.name}: {error}")
            self._zero(result, self.chapter)
            return result
        try:
            self._grade_bytes(data, result, path)
        except GradingError:
            raise
        except Exception as error:  # report it on this row, go on with the batch
            result.messages.append(f"grader error: {type(error).__name__}: {str(error)[:200]}")
        return result

    def _grade_bytes(self, data: bytes, result: Result, path: Path) -> None:
        try:
            submission = parse(data, QUESTIONS)
        except Refused as error:
            result.messages.append(str(error))
            self._zero(result, self.chapter)
            return
        result.messages += submission.notes
        notebook, chapter = submission.notebook, submission.chapter
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
        graded = {key.split("/")[0] for key in self.references or {}}
        if self.references is not None and chapter not in graded:
            result.messages.append(f"this is the notebook of {chapter}; this assignment grades "
                                   f"{', '.join(sorted(graded))}: submit that exercise "
                                   "notebook")
            return
        seed = 0
        if self.course is not None:
            student, flag = self.course.identify(path)
            if student is None:
                named = path.name.split("__", 1)[0] if "__" in path.name else None
                result.messages.append(
                    f"its file name names {named[:64]!r}, who is not on the course's roster"
                    if named else
                    f"cannot tell whose notebook {path.name} is: name it <id>__<notebook> "
                    "(as `course notebooks` does) or put it in a folder named by the id")
                self._zero(result, chapter)
                return
            result.student = student
            result.flags += [flag] if flag else []
            the_variant = self.canonical(student, chapter)
            seed = the_variant["seed"]
            result.flags += mismatches(the_variant, submission.grading)
        else:
            the_variant = book_variant(chapter)
        # the variant cell is the course's, whatever the submission's said
        notebook, note = with_variant(notebook, the_variant)
        if note:
            (result.flags if self.course is not None else result.messages).append(note)
        questions = chapter_questions(chapter)
        cases = self.cases(chapter)
        public = {q.name: len(q.cases()) for q in questions}
        expected = self.expected(chapter, seed)
        outcome = run_notebook(json.dumps(notebook).encode(), questions,
                               {name: c[:public[name]] for name, c in cases.items()},
                               self.limits, self.sandboxed,
                               hidden={name: c[public[name]:] for name, c in cases.items()})
        result.points, messages = score(chapter, questions, cases, expected, outcome, public)
        result.messages += messages
        result.maximum = sum(q.points for q in questions)
        if outcome.get("cell_errors"):
            result.messages.append("errors while running: "
                                   + "; ".join(map(str, outcome["cell_errors"][:3])))

    def _submitters(self, paths: list[Path], chapters: set[str]) -> set[tuple[str, str]]:
        """(student, chapter) of every submission whose file names a student of the course."""
        pairs = set()
        for path in paths:
            chapter, student = self.chapter or _peek_chapter(path), self.course.identify(path)[0]
            if chapter in chapters and student is not None:
                pairs.add((student, chapter))
        return pairs

    @staticmethod
    def _zero(result: Result, chapter: str | None) -> None:
        if chapter:
            questions = chapter_questions(chapter)
            result.points = {q.name: 0.0 for q in questions}
            result.maximum = sum(q.points for q in questions)

    def grade_all(self, paths: list[Path], jobs: int | None = None,
                  progress: bool = False) -> list[Result]:
        jobs = jobs or os.cpu_count() or 1
        # Pin the references first: every chapter of the batch, before any submission runs.
        chapters = {self.chapter} if self.chapter else set(filter(None, map(_peek_chapter,
                                                                              paths)))
        if self.references is not None:
            chapters &= {key.split("/")[0] for key in self.references}  # others: a message
        results: dict[Path, Result] = {}
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            if self.course is None:  # (both also fail fast if a reference is broken)
                for future in [pool.submit(self.expected, c) for c in sorted(chapters)]:
                    future.result()
            else:  # every submitter's own variant
                self.canonicals(sorted(self._submitters(paths, chapters)), jobs)
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
        ordered = [results[p] for p in paths]
        _flag_duplicates(ordered)
        return ordered


def _flag_duplicates(results: list[Result]) -> None:
    """Flag every submission of a student who has more than one for a chapter: which one
    counts is the instructor's decision, not the grader's."""
    by_student: dict[tuple[str, str], list[Result]] = {}
    for result in results:
        if result.student:
            by_student.setdefault((result.student, result.chapter), []).append(result)
    for (student, chapter), same in by_student.items():
        if len(same) > 1:
            names = ", ".join(Path(r.submission).name for r in same)
            for result in same:
                result.flags.append(f"{len(same)} submissions of {chapter} for {student} in "
                                    f"this batch ({names[:300]}): decide which one counts")


def _peek_chapter(path: Path) -> str | None:
    """The chapter a submission declares, if it can be read (grading says why if not)."""
    try:
        return parse(read_file(path), QUESTIONS).chapter
    except (OSError, ValueError):  # Refused is a ValueError
        return None
