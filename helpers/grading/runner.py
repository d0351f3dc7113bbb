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

import helpers
from helpers.grading import sandbox
from helpers.grading.questions import Question

# Settings that choose the kernels of NumPy, OpenBLAS, MKL, PyTorch and TensorFlow (a second
# arithmetic, scripts/second_arithmetic.py, is made of them): passed on to the worker.
ARITHMETIC_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MKL_CBWR",
                       "NPY_DISABLE_CPU_FEATURES", "ATEN_CPU_CAPABILITY", "TF_ENABLE_ONEDNN_OPTS")


@dataclass(frozen=True)
class Limits:
    """Time and memory for one notebook. The wall-clock limit of the whole run is derived:
    start-up, then the notebook's cells (``cells_seconds`` in all, ``cell_seconds`` each),
    then ``question_seconds`` for each answer read (a value, or one call of a function on
    one case). So a looping answer costs its own question, never the others'."""

    cells_seconds: float = 60.0     # all the notebook's cells together
    cell_seconds: float = 20.0      # one cell
    question_seconds: float = 10.0  # reading one answer: one call, its conversion, its encoding
    startup_seconds: float = 20.0   # starting the interpreter, reading the notebook
    memory_bytes: int = 2 * 1024**3
    result_bytes: int = 20 * 1024**2

    def wall_seconds(self, answers: int) -> float:
        """The most a notebook may take, when ``answers`` answers are read from it."""
        return self.startup_seconds + self.cells_seconds + answers * self.question_seconds


def _limit(limits: Limits, wall_seconds: float):
    """Runs in the child before exec: resource limits and a process group of its own.

    The limits hold for the sandbox and everything started inside it.
    """

    def apply() -> None:
        os.setsid()  # its own process group, so a time-out kills its children too
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        cpu = int(wall_seconds) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 1024**2, 50 * 1024**2))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_notebook(notebook_bytes: bytes, questions: list[Question], cases: dict[str, list],
                 limits: Limits = Limits(), sandboxed: bool = True,
                 variants: list[dict] | None = None) -> dict:
    """Execute a notebook (given as bytes: the submission itself is never touched) in a
    worker process, inside the sandbox of :mod:`helpers.grading.sandbox` unless
    ``sandboxed`` is False, and return {"answers": {...}, "cell_errors": [...]} or
    {"fatal": msg}. With ``variants`` (reference solutions only), the notebook runs once per
    variant in the one process, and the result is {"runs": [one result per variant]}."""
    request = {
        "questions": [{"name": q.name, "kind": q.kind, "cases": cases.get(q.name, [[]])}
                      for q in questions],
        "cells_timeout": limits.cells_seconds,
        "cell_timeout": limits.cell_seconds,
        "question_timeout": limits.question_seconds,
    }
    runs = 1
    if variants is not None:
        request["variants"], runs = variants, len(variants)
    wall_seconds = runs * limits.wall_seconds(sum(len(q["cases"])
                                                  for q in request["questions"]))
    workdir = Path(tempfile.mkdtemp(prefix="grading-"))
    try:
        (workdir / "submission.ipynb").write_bytes(notebook_bytes)
        (workdir / "request.json").write_text(json.dumps(request))
        read_end, write_end = os.pipe()
        home = sandbox.INSIDE if sandboxed else workdir
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        for key in ARITHMETIC_SETTINGS:  # this machine's: the worker computes as the grader
            if key in os.environ:
                env[key] = os.environ[key]
        # the worker imports this very helpers package, wherever it was loaded from (an
        # installed wheel, an editable install, an exported autograder's folder)
        env["PYTHONPATH"] = str(Path(helpers.__file__).resolve().parents[1])
        command = [sys.executable, "-m", "helpers.grading.worker", "submission.ipynb",
                   "request.json", str(write_end)]
        if sandboxed:
            command = sandbox.wrap(command, workdir, env)
        process = subprocess.Popen(
            command, cwd=workdir, env=env, pass_fds=(write_end,), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_limit(limits, wall_seconds))
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
            process.wait(timeout=wall_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            return {"fatal": f"the notebook did not finish within {wall_seconds:g} s "
                             "(an infinite loop?) and was stopped"}
        finally:
            # Read to the end: the sandbox's processes are gone with it, so the pipe closes.
            # Whatever is unread after that is dropped with this pipe, never read later.
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
