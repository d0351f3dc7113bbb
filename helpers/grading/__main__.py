"""Command line: check one notebook, grade many, run a course, or regenerate the public
expected answers.

    python -m helpers.grading check exercises/01_partial_derivatives.ipynb
    python -m helpers.grading grade --out grades.csv submissions/*.ipynb
    python -m helpers.grading course init COURSE_DIR --roster roster.csv
    python -m helpers.grading course notebooks COURSE_DIR --out notebooks/
    python -m helpers.grading grade --course COURSE_DIR --out grades.csv submissions/*.ipynb
    python -m helpers.grading expected
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from helpers.grading import public
from helpers.grading.checker import check_notebook
from helpers.grading.course import CourseError
from helpers.grading.grade import Grader, GradingError, reference_answers
from helpers.grading.questions import QUESTIONS
from helpers.grading.runner import Limits, enforced_limits


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers.grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check one notebook against the public cases")
    check.add_argument("notebook", type=Path)
    check.add_argument("--chapter", choices=sorted(QUESTIONS),
                       help="chapter key, if the notebook's metadata lacks it")
    grade = sub.add_parser("grade", help="grade many notebooks with the hidden cases into a "
                                         "CSV file")
    grade.add_argument("submissions", type=Path, nargs="+", help=".ipynb files")
    grade.add_argument("--out", type=Path, default=Path("grades.csv"),
                       help="CSV file to write (default: grades.csv)")
    grade.add_argument("--chapter", choices=sorted(QUESTIONS),
                       help="grade every submission as this chapter (others get zero)")
    grade.add_argument("--jobs", type=int, default=None, help="parallel workers (default: "
                                                              "one per core)")
    grade.add_argument("--timeout", type=float, default=60.0,
                       help="seconds for running a notebook's cells, all together (default: "
                            "60); reading each answer then has 10 s of its own")
    grade.add_argument("--memory", type=float, default=2.0, metavar="GB",
                       help="memory of one notebook, its processes and its /tmp together "
                            "(default: 2)")
    grade.add_argument("--processes", type=int, default=256, metavar="N",
                       help="processes and threads of one notebook (default: 256)")
    grade.add_argument("--cpus", type=float, default=1.0, metavar="N",
                       help="cores' worth of CPU one notebook may use at once (default: 1)")
    grade.add_argument("--course", type=Path, metavar="COURSE_DIR",
                       help="grade each submission against its student's own variant (from "
                            "the file name <id>__... or the folder), and flag mismatches")
    grade.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="run submissions without the bubblewrap sandbox (where it is "
                            "missing, e.g. macOS): a submission can then read the reference "
                            "solutions and change files and other grades; the CSV says so")
    export = sub.add_parser("gradescope", help="write a Gradescope autograder (zip) that "
                                               "grades in the same sandbox")
    export.add_argument("--out", type=Path, default=Path("autograder.zip"))
    export.add_argument("--chapter", choices=sorted(QUESTIONS), action="append",
                        help="a chapter to grade (repeat it; default: every chapter)")
    export.add_argument("--course", type=Path, metavar="COURSE_DIR",
                        help="grade each student against their own variant (the roster's "
                             "'email' column, or its 'id', names them on Gradescope)")
    export.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade without bubblewrap there (if Gradescope's container "
                             "cannot create namespaces); the feedback says so")
    course = sub.add_parser("course", help="per-student variants: a course directory kept "
                                           "outside the book, and each student's notebooks")
    course_sub = course.add_subparsers(dest="course_command", required=True)
    init = course_sub.add_parser("init", help="create a course directory: a secret, the "
                                              "roster, a file for your own hidden cases")
    init.add_argument("folder", type=Path, metavar="COURSE_DIR")
    init.add_argument("--roster", type=Path, required=True,
                      help="CSV with an 'id' column (letters, digits, . @ + -)")
    notebooks = course_sub.add_parser("notebooks", help="write one exercise notebook per "
                                                        "student and chapter")
    notebooks.add_argument("folder", type=Path, metavar="COURSE_DIR")
    notebooks.add_argument("--out", type=Path, required=True, help="folder to write into")
    notebooks.add_argument("--chapter", choices=sorted(QUESTIONS), action="append",
                           help="a chapter (repeat it; default: every chapter)")
    sub.add_parser("expected", help="regenerate helpers/grading/public_expected.json from "
                                    "the reference solutions")
    return parser


MAX_FIELD = 2000  # characters of one CSV field: any CSV reader's default limit holds
# A spreadsheet reads a cell that starts with one of these as a formula (=HYPERLINK(...) in
# a file name would be live in the instructor's spreadsheet): such text gets a leading
# apostrophe, as OWASP's advice on CSV injection says.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _clean(value: object) -> object:
    """A CSV field as any reader parses it, and as a spreadsheet shows it: no control
    characters, a bounded length, no formula."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    text = "".join(c if c.isprintable() else " " for c in value)
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD - 15] + " ... (cut)"


def _write_csv(results, path: Path, sandbox: str, with_course: bool = False) -> None:
    """Write the grades at once: a temporary file beside the target, renamed over it. With
    a course, two more columns: the student graded, and the flags (a notebook that looks
    like someone else's, or edited)."""
    names = sorted({q for r in results for q in r.points}, key=lambda q: int(q[1:]))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    course_header = ["student", "flags"] if with_course else []
    try:
        with temporary.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["submission", *course_header, "chapter", *names, "total", "max",
                             "sandbox", "messages"])
            for r in results:
                course_fields = [r.student, " | ".join(r.flags)] if with_course else []
                writer.writerow([_clean(v) for v in (
                    r.submission, *course_fields, r.chapter,
                    *(r.points.get(n, "") for n in names), r.total, r.maximum, sandbox,
                    " | ".join(r.messages))])
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _printable(text: str) -> str:
    """Text for the terminal: a file name may hold escape sequences (clear the screen, set
    the title), which are shown, not obeyed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _summary(results) -> str:
    lines = [f"graded {len(results)} submission(s)"]
    graded = [r for r in results if r.maximum]
    if graded:
        mean = sum(r.total / r.maximum for r in graded) / len(graded)
        full = sum(r.total == r.maximum for r in graded)
        lines.append(f"mean score {100 * mean:.1f}%, full marks {full}, zero "
                     f"{sum(r.total == 0 for r in graded)}")
        names = sorted({q for r in graded for q in r.points}, key=lambda q: int(q[1:]))
        for name in names:
            values = [r.points[name] for r in graded if name in r.points]
            lines.append(f"  {name}: mean {sum(values) / len(values):.2f} points")
    for r in results:
        if r.flags:
            lines.append(f"  FLAGGED {r.submission} ({r.student}): {' | '.join(r.flags)}")
    problems = [r for r in results if not r.maximum]
    for r in problems:
        lines.append(f"  not graded: {r.submission}: {' | '.join(r.messages)}")
    return "\n".join(map(_printable, lines))


def _course(args) -> int:
    from helpers.grading import course
    from helpers.grading.grade import ROOT

    if args.course_command == "init":
        made = course.init(args.folder, args.roster)
        print(f"created {made.folder} for {len(made.students)} students: keep it private "
              f"(its {course.COURSE_FILE} holds the secret every notebook is made from); add "
              f"your own hidden cases to {made.folder / course.HIDDEN_FILE}")
        return 0
    made = course.Course.load(args.folder)
    grader = Grader(course=made)
    written = course.write_notebooks(made, grader, args.out, args.chapter or sorted(QUESTIONS),
                                     ROOT)
    print(f"wrote {len(written)} notebooks to {args.out} ({len(made.students)} students x "
          f"{len(written) // max(len(made.students), 1)} chapters), named <id>__<notebook>")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "course":
            return _course(args)
        if args.command == "expected":
            answers = {chapter: reference_answers(chapter, hidden=False, limits=Limits(),
                                                  sandboxed=False)
                       for chapter in QUESTIONS}
            kinds = {chapter: {q.name: q.kind for q in questions}
                     for chapter, questions in QUESTIONS.items()}
            data = public.build(answers, kinds)
            public.PUBLIC_EXPECTED.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            print(f"wrote {public.PUBLIC_EXPECTED}")
            return 0
        if args.command == "gradescope":
            from helpers.grading.course import Course
            from helpers.grading.gradescope import build

            build(args.out, args.chapter, sandboxed=not args.unsafe_no_sandbox,
                  course=Course.load(args.course) if args.course else None)
            print(f"wrote {args.out}: upload it as the autograder of a Gradescope "
                  "programming assignment (its setup.sh installs Python and bubblewrap)")
            return 0
        if args.command == "check":
            points, maximum, lines = check_notebook(args.notebook, args.chapter)
            print(*lines, sep="\n")
            print(f"score on the public cases: {points:g} / {maximum:g} (multiple-choice "
                  "answers are checked when graded)")
            return 0
        missing = [p for p in args.submissions if p.is_symlink() or not p.is_file()]
        for path in missing:
            print(f"warning: {_printable(str(path))} is not a regular file; it gets a row "
                  "with a message",
                  file=sys.stderr)
        from helpers.grading.course import Course

        if min(args.memory, args.processes, args.cpus, args.timeout) <= 0:
            raise GradingError("--memory, --processes, --cpus and --timeout must be positive")
        limits = Limits(cells_seconds=args.timeout, memory_bytes=int(args.memory * 1024**3),
                        processes=args.processes, cpus=args.cpus)
        grader = Grader(chapter=args.chapter, limits=limits,
                        sandboxed=not args.unsafe_no_sandbox,
                        course=Course.load(args.course) if args.course else None)
        sandbox = "NONE (--unsafe-no-sandbox)" if args.unsafe_no_sandbox else \
            f"bubblewrap ({enforced_limits(grader.limits)})"
        print(f"sandbox: {sandbox}", file=sys.stderr)
        results = grader.grade_all(args.submissions, jobs=args.jobs,
                                   progress=sys.stderr.isatty())
        _write_csv(results, args.out, sandbox, with_course=args.course is not None)
        print(_summary(results))
        print(f"wrote {args.out}")
        return 0
    except (GradingError, CourseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
