"""Start the worker for one notebook, with limits, and read back its plain-data results."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import helpers
from helpers.grading import cgroups, sandbox
from helpers.grading.questions import Question

# Settings that choose the kernels of NumPy, OpenBLAS, MKL, PyTorch and TensorFlow (a second
# arithmetic, scripts/second_arithmetic.py, is made of them): passed on to the worker.
ARITHMETIC_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MKL_CBWR",
                       "NPY_DISABLE_CPU_FEATURES", "ATEN_CPU_CAPABILITY", "TF_ENABLE_ONEDNN_OPTS")


@dataclass(frozen=True)
class Limits:
    """Time, memory, processes and disk for one notebook. The wall-clock limit of the whole
    run is derived: start-up, then the notebook's cells (``cells_seconds`` in all,
    ``cell_seconds`` each), then ``question_seconds`` for each answer read (a value, or one
    call of a function on one case). So a looping answer costs its own question, never the
    others'. Memory, processes and CPU hold for the whole notebook, its children included,
    where control groups can be made (:mod:`helpers.grading.cgroups`); each process also has
    ``memory_bytes`` of address space and ``cpu_seconds`` of CPU time in any case."""

    cells_seconds: float = 60.0     # all the notebook's cells together
    cell_seconds: float = 20.0      # one cell
    question_seconds: float = 10.0  # reading one answer: one call, its conversion, its encoding
    startup_seconds: float = 20.0   # starting the interpreter, reading the notebook
    memory_bytes: int = 2 * 1024**3  # the whole notebook: processes and its /tmp together
    processes: int = 256            # processes and threads of the whole notebook
    disk_bytes: int = 512 * 1024**2  # its only writable place, a tmpfs (counted in memory too)
    cpus: float = 1.0               # cores' worth of CPU time the notebook may use at once
    result_bytes: int = 20 * 1024**2

    def wall_seconds(self, answers: int) -> float:
        """The most a notebook may take, when ``answers`` answers are read from it."""
        return self.startup_seconds + self.cells_seconds + answers * self.question_seconds


def enforced_limits(limits: Limits) -> str:
    """Which limits hold on this machine, in words (the CSV's ``sandbox`` column and the
    grader's first line say it)."""
    whole = cgroups.enforced()
    gb = f"{limits.memory_bytes / 1024**3:g} GB"
    parts = [f"memory {gb} for the whole notebook" if "memory" in whole
             else f"memory {gb} per process only (no control group here)",
             f"{limits.processes} processes for the whole notebook" if "pids" in whole
             else f"{limits.processes} processes (per worker uid)" if sandbox.as_root()
             else "processes not limited (no control group here, not root)",
             f"{limits.cpus:g} CPU" if "cpu" in whole else "CPU time per process only",
             f"/tmp {limits.disk_bytes / 1024**2:g} MB"]
    return "; ".join(parts)


class _Slots:
    """Numbers for the parallel workers (a worker's uid is a slot's), taken and given back."""

    def __init__(self) -> None:
        self._free: set[int] = set()
        self._next = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[int]:
        with self._lock:
            number = min(self._free) if self._free else self._next
            self._free.discard(number)
            self._next = max(self._next, number + 1)
        try:
            yield number
        finally:
            with self._lock:
                self._free.add(number)


SLOTS = _Slots()


def _limit(limits: Limits, wall_seconds: float, group: cgroups.Group, sandboxed: bool):
    """Runs in the child before exec: its control groups, resource limits and a process
    group of its own. The limits hold for the sandbox and everything started inside it; as
    root, the process limit counts the worker uid's processes (one uid per slot)."""

    def apply() -> None:
        os.setsid()  # its own process group, so a time-out kills its children too
        group.join()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        cpu = int(wall_seconds) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 1024**2, 50 * 1024**2))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sandboxed and sandbox.as_root():
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return apply


def run_notebook(notebook_bytes: bytes, questions: list[Question], cases: dict[str, list],
                 limits: Limits = Limits(), sandboxed: bool = True,
                 variants: list[dict] | None = None,
                 hidden: dict[str, list] | None = None) -> dict:
    """Execute a notebook (given as bytes: the submission itself is never touched) in a
    worker process, inside the sandbox of :mod:`helpers.grading.sandbox` unless
    ``sandboxed`` is False, and return {"answers": {...}, "cell_errors": [...]} or
    {"fatal": msg}. With ``variants`` (reference solutions only), the notebook runs once per
    variant in the one process, and the result is {"runs": [one result per variant]}.

    ``hidden`` (question -> more cases) reaches the worker only after it has run every cell
    and answered the ``cases``: by then every text the submission can get into the feedback
    (cell errors, errors on the public cases) is fixed, so none of it can carry a hidden
    input. Their answers follow the public ones in ``answers``."""
    hidden = {name: more for name, more in (hidden or {}).items() if more}
    request = {
        "questions": [{"name": q.name, "kind": q.kind, "cases": cases.get(q.name, [[]])}
                      for q in questions],
        "cells_timeout": limits.cells_seconds,
        "cell_timeout": limits.cell_seconds,
        "question_timeout": limits.question_seconds,
        "more_cases": bool(hidden),
    }
    runs = 1
    if variants is not None:
        request["variants"], runs = variants, len(variants)
    answers = sum(len(q["cases"]) for q in request["questions"]) + \
        sum(map(len, hidden.values()))
    wall_seconds = runs * limits.wall_seconds(answers)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
           # the worker imports this very helpers package, wherever it was loaded from (an
           # installed wheel, an editable install, an exported autograder's folder)
           "PYTHONPATH": ":".join(map(str, [Path(helpers.__file__).resolve().parents[1],
                                            *sandbox.site_folders()]))}
    for key in ARITHMETIC_SETTINGS:  # this machine's: the worker computes as the grader
        if key in os.environ:
            env[key] = os.environ[key]
    files = {"submission.ipynb": notebook_bytes, "request.json": json.dumps(request).encode()}
    command = [sys.executable, "-m", "helpers.grading.worker", "submission.ipynb",
               "request.json"]
    with SLOTS.slot() as slot:
        group = cgroups.Group.create(limits.memory_bytes, limits.processes, limits.cpus) \
            if sandboxed else cgroups.Group([], {})
        try:
            if sandboxed:
                env["HOME"] = str(sandbox.INSIDE)
                with sandbox.wrapped(command, env, files, sandbox.worker_uid(slot),
                                     limits.disk_bytes) as (argv, fds):
                    return _run(argv, env, fds, None, limits, wall_seconds, group, hidden)
            with tempfile.TemporaryDirectory(prefix="grading-") as folder:
                for name, data in files.items():
                    (Path(folder) / name).write_bytes(data)
                env["HOME"] = folder
                return _run(command, env, (), folder, limits, wall_seconds, group, hidden)
        finally:
            group.close()


def _run(argv: list[str], env: dict[str, str], fds: tuple[int, ...], cwd: str | None,
         limits: Limits, wall_seconds: float, group: cgroups.Group,
         hidden: dict[str, list]) -> dict:
    """Start the worker, give it the hidden cases once it has reported on the public ones,
    and read its results (one JSON line per phase) to the end."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [*argv, str(write_end)], cwd=cwd, env=env, pass_fds=(*fds, write_end),
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_limit(limits, wall_seconds, group, cwd is None))
    os.close(write_end)
    chunks: list[bytes] = []
    first_line = threading.Event()

    def read() -> None:
        size = 0
        while chunk := os.read(read_end, 65536):
            size += len(chunk)
            if size <= limits.result_bytes:
                chunks.append(chunk)
            if b"\n" in chunk:
                first_line.set()
        first_line.set()

    def send() -> None:  # in a thread: a worker that never reads its stdin blocks no one
        first_line.wait()
        try:
            if hidden and process.poll() is None:
                process.stdin.write(json.dumps(hidden).encode())
            process.stdin.close()
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    sender = threading.Thread(target=send, daemon=True)
    reader.start()
    sender.start()
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
        first_line.set()
    return _results(b"".join(chunks), process.returncode, group, hidden)


def _results(data: bytes, status: int, group: cgroups.Group, hidden: dict[str, list]) -> dict:
    """The worker's results as the grader reads them: the public phase, then the hidden one
    (missing when the process ended between them: those cases count as crashed)."""
    lines = data.split(b"\n")
    if not data.strip():
        if group.out_of_memory():
            return {"fatal": "the notebook's processes used more than their memory limit "
                             "together and were stopped"}
        if status and status < 0:
            return {"fatal": f"the notebook's process was killed by signal {-status} "
                             "(memory or CPU limit?)"}
        return {"fatal": "the notebook ended its process (os._exit or a crash) before "
                         "it could be graded"}
    try:
        result = json.loads(lines[0])
        if not isinstance(result, dict) or ("fatal" not in result and "runs" not in result
                                            and not isinstance(result.get("answers"), dict)):
            raise ValueError
        later = json.loads(lines[1]) if hidden and len(lines) > 1 and lines[1].strip() \
            else {}
        if not isinstance(later, dict):
            raise ValueError
    except ValueError:
        return {"fatal": "the notebook's process returned unreadable results (did the "
                         "code write to the grader's channel?)"}
    if hidden and "answers" in result:
        crashed = {"error": "crashed: the process ended before this case was answered"}
        for name, more in hidden.items():
            got = later.get(name)
            got = got if isinstance(got, list) and len(got) == len(more) else \
                [crashed] * len(more)
            public = result["answers"].get(name)
            result["answers"][name] = (public if isinstance(public, list) else []) + got
    return result
