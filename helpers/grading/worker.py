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
import threading
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


GRACE_SECONDS = 3.0  # past the cells' time, when a cell has not stopped at its alarm
_result_fd = -1  # the grader's channel: closed in every process that reads an answer


def run(path: str, request: dict, write=lambda result: None, finish=None) -> dict:
    """Run the notebook and read its answers; with ``request["variants"]`` (the reference
    solution only: trusted code), once per variant, its variant cell replaced each time,
    in one process (interpreter start-up and imports are most of a short notebook's time).
    ``write`` sends the public phase's result on before the hidden cases are asked for.

    A submission's cells run in the main thread (the alarm that stops a cell is delivered
    there) while this function's remainder waits in a thread of its own: when a cell ignores
    its alarm, the answers are read anyway once the cells' time and a grace have passed, and
    ``finish`` (the worker's: send the result, end the process) is called with the result
    from that thread; without ``finish`` the result is returned once the cells are done."""
    cells = _code_cells(path)
    if "variants" in request:
        from helpers.grading.variants import cell_source

        return {"runs": [_answers_of(*_run_cells(
            [(cell_source(v) if tagged else source, tagged) for source, tagged in cells],
            request, {}), request) for v in request["variants"]]}
    state: dict[str, Any] = {"stopped": False, "running": None}
    finished, outcome = threading.Event(), {}

    def drive() -> None:
        if not finished.wait(request["cells_timeout"] + GRACE_SECONDS):
            state["stopped"] = True
            state["cell_errors"].append(
                f"cell {state['running']}: did not stop at its time limit (it ignores the "
                "alarm): it was abandoned, later cells were not run")
        try:
            result = _answers_of(state["namespace"], state["cell_errors"], request)
            if request.get("more_cases"):
                write(result)
                more = json.loads(sys.stdin.buffer.read() or b"{}")
                kinds = {q["name"]: q["kind"] for q in request["questions"]}
                result = {name: _answers(state["namespace"], {
                    "name": name, "kind": kinds[name], "cases": cases},
                    request["question_timeout"]) for name, cases in more.items()
                    if name in kinds}
            outcome["result"] = result
        except BaseException as error:
            outcome["result"] = {"fatal": _describe(error)}
        if finish is not None:
            finish(outcome["result"])

    state["namespace"], state["cell_errors"] = {}, []
    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    _run_cells(cells, request, state)
    _quiet_signals()  # handlers the cells installed never run while answers are read
    finished.set()
    driver.join()  # with ``finish``, it ends the process first
    return outcome.get("result", {"fatal": "the answers could not be read"})


def _quiet_signals() -> None:
    """Every signal back to its default action (as the namespace's init, the worker then
    ignores any signal sent from inside the sandbox), and the worker not dumpable (no
    process of the sandbox can open its descriptors through /proc or trace it)."""
    for number in signal.valid_signals():
        if number not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGPIPE):
            try:
                signal.signal(number, signal.SIG_DFL)
            except (OSError, ValueError, RuntimeError):
                pass
    _not_dumpable()


def _not_dumpable() -> None:
    import ctypes

    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def _run_cells(cells: list[tuple[str, bool]], request: dict, state: dict
               ) -> tuple[dict, list[str]]:
    """Run the cells into ``state``'s namespace (a new one if it has none); (namespace,
    cell errors). ``state["stopped"]``, set by the driver, starts no further cell."""
    namespace = state.setdefault("namespace", {})
    namespace.update({"__name__": "__main__", "get_ipython": _Shell})
    cell_errors = state.setdefault("cell_errors", [])
    deadline = time.monotonic() + request["cells_timeout"]  # all cells together
    for number, (source, _) in enumerate(cells):
        left = deadline - time.monotonic()
        if state.get("stopped"):
            break
        if left <= 0:
            cell_errors.append(f"cell {number} and later: not run, the cells used their "
                               f"{request['cells_timeout']:g} s")
            break
        state["running"] = number
        try:
            _alarm(min(request["cell_timeout"], left))
            exec(compile(source, f"<cell {number}>", "exec"), namespace)
        except BaseException as error:  # every failure is reported, none ends the run
            if not state.get("stopped"):
                cell_errors.append(f"cell {number}: {_describe(error)}")
        finally:
            _cancel_alarm()
    return namespace, cell_errors


def _answers_of(namespace: dict, cell_errors: list[str], request: dict) -> dict:
    """{"cell_errors", "answers"} on the request's cases."""
    answers = {q["name"]: _answers(namespace, q, request["question_timeout"])
               for q in request["questions"]}
    return {"cell_errors": list(cell_errors), "answers": answers}


def _answers(namespace: dict, question: dict, seconds: float) -> list:
    """One question's encoded answers, read in a child process (see the module's doc)."""
    from helpers.grading.answers import evaluate

    cases = question["cases"]
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # the notebook's own streams: they may be anything
        pass
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return _answers_here(namespace, question)
    try:
        pid = os.fork()
    except OSError:  # the notebook's own processes fill its limit: read it here, unguarded
        os.close(read_end)
        os.close(write_end)
        return _answers_here(namespace, question)
    if pid == 0:  # the child: read the answers, send them, end without cleaning up
        try:
            os.close(read_end)
            for channel in (_result_fd, 0):  # the grader's: no answer may write or read them
                try:
                    os.close(channel)
                except OSError:
                    pass
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


def _answers_here(namespace: dict, question: dict) -> list:
    """A question's answers read in this process, without a child to kill or an alarm (the
    notebook's processes or descriptors fill its limits): the run's own time limit holds."""
    from helpers.grading.answers import evaluate

    return evaluate(namespace, question["name"], question["kind"], question["cases"],
                    describe=_describe, catch=BaseException)


def main() -> None:
    global _result_fd
    notebook, request_path, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    _result_fd = fd
    _not_dumpable()
    with open(request_path) as handle:
        request = json.load(handle)
    os.environ["HELPERS_GRADING_WORKER"] = "1"  # makes check() cells silent no-ops

    def write(result: Any) -> None:
        data = (json.dumps(result) + "\n").encode()
        while data:
            data = data[os.write(fd, data):]

    def finish(result: Any) -> None:
        write(result)
        os._exit(0)  # skip atexit handlers the student code may have registered

    try:
        result = run(notebook, request, write, finish)
    except BaseException as error:  # e.g. a notebook that is not valid JSON
        result = {"fatal": _describe(error)}
    finish(result)


if __name__ == "__main__":
    main()
