"""Throughput of batch grading: submissions per minute for one chapter.

Makes N submissions of chapter 1 (the reference solution, and copies with one wrong answer
each), grades them with the hidden cases on every core, each in the bubblewrap sandbox, and
prints the rate, the reference run included. Target: at least 60 submissions per minute on a
2-core machine. `--unsafe-no-sandbox` measures the same without the sandbox, for comparison.

    python benchmarks/grading_throughput.py [--count 50] [--jobs N] [--unsafe-no-sandbox]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from helpers.grading.grade import Grader, solution_path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--unsafe-no-sandbox", action="store_true")
    args = parser.parse_args()
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
    sandbox = "no sandbox" if args.unsafe_no_sandbox else "bubblewrap sandbox"
    print(f"throughput ({sandbox}): {60 * len(results) / (elapsed + reference):.0f} "
          f"submissions per minute, reference run included ({60 * len(results) / elapsed:.0f} "
          f"without it; {full} with full marks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
