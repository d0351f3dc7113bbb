"""Run a (possibly hostile) notebook and report its answers as plain data.

This module runs in a separate process started by :mod:`helpers.grading.runner`, under
time, CPU and memory limits. It executes the notebook's code cells one by one (an error or
a time-out in one cell is noted and the next cell still runs), then evaluates each question's
answer on the cases it was given and writes the results as one line of JSON to a file
descriptor the grader passed. With ``"more_cases"`` in the request, the grader then sends the
hidden cases on standard input, and their answers follow as a second line. It never sees an
expected value: whatever the student code does in this process (monkeypatching NumPy,
printing fake results, ...) can only change its own answers.

Each question's answers are read in a child process of their own (``fork``: the notebook's
state is shared, copy-on-write): an answer that crashes the interpreter (a segfault through
ctypes) or blocks beyond its time, its alarm cancelled, is killed alone and costs its own
question, never the rest of the notebook.

    python -m helpers.grading.worker NOTEBOOK REQUEST.json RESULT_FD
"""

from __future__ import annotations

import json
import os
import re
import select
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


# A line IPython would rewrite: a %magic, a !shell command, a ?help request.
IPYTHON_SYNTAX = re.compile(r"^\s*[%!]|\?\s*$", re.MULTILINE)


def _code_cells(path: str) -> list[tuple[str, bool]]:
    """(source, is the variant cell) of each code cell. The notebook is the one the grader
    rebuilt (helpers.grading.submission), so plain JSON suffices: nbformat's validation
    costs two seconds of imports per notebook, most of a short notebook's grading."""
    with open(path, encoding="utf-8") as handle:
        notebook = json.load(handle)
    cells = []
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            cells.append((source, "variant" in cell.get("metadata", {}).get("tags", [])))
    if any(IPYTHON_SYNTAX.search(source) for source, _ in cells):
        from IPython.core.inputtransformer2 import TransformerManager

        transform = TransformerManager().transform_cell  # %magics -> get_ipython() calls
        cells = [(transform(source), tagged) for source, tagged in cells]
    return cells


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


def run(path: str, request: dict, write=lambda result: None) -> dict:
    """Run the notebook and read its answers; with ``request["variants"]`` (the reference
    solution only: trusted code), once per variant, its variant cell replaced each time,
    in one process (interpreter start-up and imports are most of a short notebook's time).
    ``write`` sends the public phase's result on before the hidden cases are asked for."""
    cells = _code_cells(path)
    if "variants" not in request:
        namespace, result = _run_cells(cells, request)
        if request.get("more_cases"):
            write(result)
            more = json.loads(sys.stdin.buffer.read() or b"{}")
            kinds = {q["name"]: q["kind"] for q in request["questions"]}
            return {name: _answers(namespace, {"name": name, "kind": kinds[name],
                                               "cases": cases}, request["question_timeout"])
                    for name, cases in more.items() if name in kinds}
        return result
    from helpers.grading.variants import cell_source

    return {"runs": [_run_cells([(cell_source(v) if is_variant else source, is_variant)
                                 for source, is_variant in cells], request)[1]
                     for v in request["variants"]]}


def _run_cells(cells: list[tuple[str, bool]], request: dict) -> tuple[dict, dict]:
    """(the notebook's namespace, {"cell_errors", "answers"} on the request's cases)."""
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
    answers = {q["name"]: _answers(namespace, q, request["question_timeout"])
               for q in request["questions"]}
    return namespace, {"cell_errors": cell_errors, "answers": answers}


def _answers(namespace: dict, question: dict, seconds: float) -> list:
    """One question's encoded answers, read in a child process (see the module's doc)."""
    from helpers.grading.answers import evaluate

    cases = question["cases"]
    read_end, write_end = os.pipe()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # the notebook's own streams: they may be anything
        pass
    try:
        pid = os.fork()
    except OSError as error:
        os.close(read_end)
        os.close(write_end)
        return [{"error": f"crashed: no process could be started to read the answer "
                          f"({error.strerror}: the notebook's process limit?)"}] * len(cases)
    if pid == 0:  # the child: read the answers, send them, end without cleaning up
        try:
            os.close(read_end)
            data = json.dumps(evaluate(namespace, question["name"], question["kind"], cases,
                                       guard=_guard(seconds), describe=_describe,
                                       catch=BaseException)).encode()
            while data:
                data = data[os.write(write_end, data):]
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + seconds * max(len(cases), 1) + 2
    chunks, size = [], 0
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([read_end], [], [], left)[0]:
            break
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        size += len(chunk)
        chunks.append(chunk if size < 64 * 1024**2 else b"")
    timed_out = time.monotonic() >= deadline
    os.close(read_end)
    try:
        os.kill(pid, signal.SIGKILL)  # it is done or stuck: either way it ends here
    except OSError:
        pass
    status = os.waitpid(pid, 0)[1]
    try:
        answers = json.loads(b"".join(chunks))
        if isinstance(answers, list) and len(answers) == len(cases):
            return answers
    except ValueError:
        pass
    if timed_out:
        failure = "TimeoutError: took too long (the answer blocked and was stopped)"
    elif os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
        failure = f"crashed: the process died of signal {os.WTERMSIG(status)} (a segfault " \
                  "or an abort in native code?)"
    else:
        failure = "crashed: the process ended without an answer (os._exit, or killed for " \
                  "memory)"
    return [{"error": failure}] * len(cases)


def main() -> None:
    notebook, request_path, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(request_path) as handle:
        request = json.load(handle)
    os.environ["HELPERS_GRADING_WORKER"] = "1"  # makes check() cells silent no-ops

    def write(result: Any) -> None:
        data = (json.dumps(result) + "\n").encode()
        while data:
            data = data[os.write(fd, data):]

    try:
        result = run(notebook, request, write)
    except BaseException as error:  # e.g. a notebook that is not valid JSON
        result = {"fatal": _describe(error)}
    write(result)
    os._exit(0)  # skip atexit handlers the student code may have registered


if __name__ == "__main__":
    main()
