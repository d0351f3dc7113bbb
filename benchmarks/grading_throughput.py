"""Throughput of batch grading: submissions per minute for one chapter.

Makes N submissions of chapter 1 (the reference solution, and copies with one wrong answer
each), grades them with the hidden cases on every core, each in the bubblewrap sandbox, and
prints the rate, the reference run included, and the limits that held (memory, processes and
CPU for each whole notebook where control groups can be made: as root, in CI). Target: at
least 60 submissions per minute on a 2-core machine, every limit on. `--unsafe-no-sandbox`
measures the same without the sandbox, for comparison.

`--variants` makes a course of N students instead (a temporary course directory): each
submission is a different student's own variant, so every one needs its own reference run,
and those are counted too.

    python benchmarks/grading_throughput.py [--count 50] [--jobs N] [--unsafe-no-sandbox]
    python benchmarks/grading_throughput.py --variants [--count 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from helpers.grading import course as course_kit
from helpers.grading.grade import ROOT, Grader, solution_path
from helpers.grading.runner import enforced_limits

WRONG_ANSWERS = ["q2 = 4.0", "q4 = 'A'", "q2 = float('nan')", "q4 = None"]


def make_submissions(folder: Path, count: int) -> list[Path]:
    solution = nbformat.read(solution_path("ch1").with_suffix(".ipynb"), as_version=4)
    paths = []
    for k in range(count):
        notebook = nbformat.from_dict(solution)
        if k % 5:  # four in five get one wrong answer, appended as a last cell
            notebook.cells.append(nbformat.v4.new_code_cell(WRONG_ANSWERS[k % 4]))
        path = folder / f"student_{k:03d}.ipynb"
        nbformat.write(notebook, path)
        paths.append(path)
    return paths


def make_course_submissions(folder: Path, count: int) -> tuple[course_kit.Course, list[Path]]:
    """A course of ``count`` students, the ch1 notebooks it hands out (made by a grader of
    their own, as `course notebooks` makes them), each answered (four in five with one wrong
    answer)."""
    roster = folder / "roster.csv"
    roster.write_text("id\n" + "".join(f"s{k:03d}\n" for k in range(count)))
    course = course_kit.init(folder / "course", roster, book_root=folder)
    handed_out = course_kit.write_notebooks(course, Grader(course=course), folder / "out",
                                            ["ch1"], ROOT)
    solution = nbformat.read(solution_path("ch1").with_suffix(".ipynb"), as_version=4)
    answers = [c.source for c in solution.cells if "answer" in c.metadata.get("tags", [])]
    for k, path in enumerate(handed_out):
        notebook = nbformat.read(path, as_version=4)
        cells = [c for c in notebook.cells if "answer" in c.metadata.get("tags", [])]
        for cell, answer in zip(cells, answers, strict=True):
            cell.source = answer
        if k % 5:
            notebook.cells.append(nbformat.v4.new_code_cell(WRONG_ANSWERS[k % 4]))
        nbformat.write(notebook, path)
    return course, handed_out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--unsafe-no-sandbox", action="store_true")
    parser.add_argument("--variants", action="store_true",
                        help="every submission a different student's variant (a course)")
    args = parser.parse_args()
    if args.variants:
        return variants(args)
    with tempfile.TemporaryDirectory() as folder:
        paths = make_submissions(Path(folder), args.count)
        grader = Grader(chapter="ch1", sandboxed=not args.unsafe_no_sandbox)
        start = time.perf_counter()
        grader.expected("ch1")
        reference = time.perf_counter() - start
        start = time.perf_counter()
        results = grader.grade_all(paths, jobs=args.jobs)
        elapsed = time.perf_counter() - start
    full = sum(r.total == r.maximum for r in results)
    print(f"{len(results)} submissions of ch1 graded in {elapsed:.1f} s with {args.jobs} "
          f"worker(s) on {os.cpu_count()} core(s), after {reference:.1f} s for the reference")
    sandbox = "no sandbox" if args.unsafe_no_sandbox else \
        f"bubblewrap sandbox; {enforced_limits(grader.limits)}"
    print(f"throughput ({sandbox}): {60 * len(results) / (elapsed + reference):.0f} "
          f"submissions per minute, reference run included ({60 * len(results) / elapsed:.0f} "
          f"without it; {full} with full marks)")
    return 0


def variants(args) -> int:
    with tempfile.TemporaryDirectory() as folder:
        course, paths = make_course_submissions(Path(folder), args.count)
        grader = Grader(chapter="ch1", sandboxed=not args.unsafe_no_sandbox, course=course)
        start = time.perf_counter()
        results = grader.grade_all(paths, jobs=args.jobs)  # every variant's reference first
        elapsed = time.perf_counter() - start
    full = sum(r.total == r.maximum for r in results)
    flagged = sum(bool(r.flags) for r in results)
    sandbox = "no sandbox" if args.unsafe_no_sandbox else \
        f"bubblewrap sandbox; {enforced_limits(grader.limits)}"
    print(f"{len(results)} submissions of ch1, each a different student's variant, graded in "
          f"{elapsed:.1f} s with {args.jobs} worker(s) on {os.cpu_count()} core(s), "
          f"{len(results)} reference runs included")
    print(f"throughput ({sandbox}): {60 * len(results) / elapsed:.0f} submissions per minute "
          f"({full} with full marks, {flagged} flagged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
