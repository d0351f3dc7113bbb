"""Run a (possibly hostile) notebook and report its answers as plain data.

This module runs in a separate process started by :mod:`helpers.grading.runner`, under
time, CPU and memory limits. It executes the notebook's code cells one by one (an error or
a time-out in one cell is noted and the next cell still runs), then evaluates each question's
answer on the cases it was given and writes the results as JSON to a file descriptor the
grader passed. It never sees an expected value: whatever the student code does in this
process (monkeypatching NumPy, printing fake results, ...) can only change its own answers.

    python -m helpers.grading.worker NOTEBOOK REQUEST.json RESULT_FD
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that `except Exception` in student code
    does not swallow it."""


def _alarm(seconds: float):
    def handler(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _cancel_alarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


def _describe(error: BaseException) -> str:
    if isinstance(error, _Timeout):
        return "TimeoutError: took too long"
    if isinstance(error, SystemExit):
        return f"SystemExit: the code called sys.exit({error.code!r})"
    text, name = str(error), type(error).__name__[:80]
    return f"{name}: {text[:200]}" if text else name


def _code_cells(path: str) -> list[tuple[str, bool]]:
    """(source, is the variant cell) of each code cell."""
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    notebook = nbformat.read(path, as_version=4)
    transform = TransformerManager().transform_cell  # %magics -> get_ipython() calls
    return [(transform(cell.source), "variant" in cell.metadata.get("tags", []))
            for cell in notebook.cells if cell.cell_type == "code"]


class _Shell:
    """Stands in for get_ipython(): magics (%pip, %matplotlib, ...) do nothing here."""

    def run_line_magic(self, *args, **kwargs):
        return None

    run_cell_magic = system = run_line_magic

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _guard(seconds: float):
    """Run one answer's evaluation, conversion and encoding under its own time limit."""

    def guarded(read):
        try:
            _alarm(seconds)
            return read()
        finally:
            _cancel_alarm()

    return guarded


def run(path: str, request: dict) -> dict:
    """Run the notebook and read its answers; with ``request["variants"]`` (the reference
    solution only: trusted code), once per variant, its variant cell replaced each time,
    in one process (interpreter start-up and imports are most of a short notebook's time)."""
    cells = _code_cells(path)
    if "variants" not in request:
        return _run_cells(cells, request)
    from helpers.grading.variants import cell_source

    return {"runs": [_run_cells([(cell_source(v) if is_variant else source, is_variant)
                                 for source, is_variant in cells], request)
                     for v in request["variants"]]}


def _run_cells(cells: list[tuple[str, bool]], request: dict) -> dict:
    from helpers.grading.answers import evaluate

    namespace: dict[str, Any] = {"__name__": "__main__", "get_ipython": _Shell}
    cell_errors = []
    deadline = time.monotonic() + request["cells_timeout"]  # all cells together
    for number, (source, _) in enumerate(cells):
        left = deadline - time.monotonic()
        if left <= 0:
            cell_errors.append(f"cell {number} and later: not run, the cells used their "
                               f"{request['cells_timeout']:g} s")
            break
        try:
            _alarm(min(request["cell_timeout"], left))
            exec(compile(source, f"<cell {number}>", "exec"), namespace)
        except BaseException as error:  # every failure is reported, none ends the run
            cell_errors.append(f"cell {number}: {_describe(error)}")
        finally:
            _cancel_alarm()
    answers = {
        q["name"]: evaluate(namespace, q["name"], q["kind"], q["cases"],
                            guard=_guard(request["question_timeout"]),
                            describe=_describe, catch=BaseException)
        for q in request["questions"]}
    return {"cell_errors": cell_errors, "answers": answers}


def main() -> None:
    notebook, request_path, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(request_path) as handle:
        request = json.load(handle)
    os.environ["HELPERS_GRADING_WORKER"] = "1"  # makes check() cells silent no-ops
    try:
        payload = json.dumps(run(notebook, request))
    except BaseException as error:  # e.g. a notebook that is not valid JSON
        payload = json.dumps({"fatal": _describe(error)})
    data = payload.encode()
    while data:
        data = data[os.write(fd, data):]
    os._exit(0)  # skip atexit handlers the student code may have registered


if __name__ == "__main__":
    main()
