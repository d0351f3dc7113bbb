"""Start the worker for one notebook, with limits, and read back its plain-data results."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from helpers.grading.questions import Question


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 60.0     # the whole notebook
    cell_seconds: float = 20.0     # one cell
    question_seconds: float = 10.0  # one call of a student's function
    memory_bytes: int = 2 * 1024**3
    result_bytes: int = 20 * 1024**2


def _limit(limits: Limits):
    """Runs in the child before exec: resource limits and a process group of its own.

    The worker keeps the grader's user: on a typical machine the interpreter and the
    installed packages are not readable by an unprivileged account such as nobody. Files
    it could rewrite are checked and restored by the grader after each submission.
    """

    def apply() -> None:
        os.setsid()  # its own process group, so a time-out kills its children too
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        cpu = int(limits.wall_seconds) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 1024**2, 50 * 1024**2))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_notebook(notebook_bytes: bytes, questions: list[Question], cases: dict[str, list],
                 limits: Limits = Limits()) -> dict:
    """Execute a notebook (given as bytes: the submission itself is never touched) in a
    worker process and return {"answers": {...}, "cell_errors": [...]} or {"fatal": msg}."""
    request = {
        "questions": [{"name": q.name, "kind": q.kind, "cases": cases.get(q.name, [[]])}
                      for q in questions],
        "cell_timeout": limits.cell_seconds,
        "question_timeout": limits.question_seconds,
    }
    workdir = Path(tempfile.mkdtemp(prefix="grading-"))
    try:
        (workdir / "submission.ipynb").write_bytes(notebook_bytes)
        (workdir / "request.json").write_text(json.dumps(request))
        read_end, write_end = os.pipe()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # this machine's BLAS settings
            if key in os.environ:
                env[key] = os.environ[key]
        process = subprocess.Popen(
            [sys.executable, "-m", "helpers.grading.worker", "submission.ipynb",
             "request.json", str(write_end)],
            cwd=workdir, env=env, pass_fds=(write_end,), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_limit(limits))
        os.close(write_end)
        chunks: list[bytes] = []

        def read() -> None:
            size = 0
            while chunk := os.read(read_end, 65536):
                size += len(chunk)
                if size <= limits.result_bytes:
                    chunks.append(chunk)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            process.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            return {"fatal": f"the notebook did not finish within {limits.wall_seconds:g} s "
                             "(an infinite loop?) and was stopped"}
        finally:
            reader.join(timeout=5)
            os.close(read_end)
        data = b"".join(chunks)
        if not data:
            if process.returncode and process.returncode < 0:
                return {"fatal": f"the notebook's process was killed by signal "
                                 f"{-process.returncode} (memory or CPU limit?)"}
            return {"fatal": "the notebook ended its process (os._exit or a crash) before "
                             "it could be graded"}
        try:
            result = json.loads(data)
        except ValueError:
            return {"fatal": "the notebook's process returned unreadable results (did the "
                             "code write to the grader's channel?)"}
        if not isinstance(result, dict):
            return {"fatal": "the notebook's process returned unreadable results"}
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
