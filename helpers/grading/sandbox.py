"""The operating-system sandbox a submission runs in: Debian's bubblewrap (``bwrap``).

A worker process started through :func:`wrap` sees

* the system (``/usr``, ``/etc``, ...), the Python installation and the virtual environment,
  read-only;
* of the book's repository, only the installed ``helpers`` package, read-only: no
  ``solutions/``, hidden cases, other submissions or CSV files exist in its view;
* one writable directory, its own (``/tmp/grading``, holding its copy of the notebook), on an
  otherwise empty ``/tmp``;
* no network, and its own PID namespace: it cannot see or signal the grader or other
  workers, and whatever it starts dies with it (``--die-with-parent``, and the namespace ends
  when its first process does); ``--new-session`` keeps it off the grader's terminal.

bubblewrap is the tool Flatpak builds on; rewriting it here (namespaces by hand) would be
worse, and checking and restoring chosen folders after the fact cannot stop reads, processes
that outlive the run, or writes to files nobody thought to check.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

INSIDE = Path("/tmp/grading")  # the worker's directory, as the worker sees it
INSTALL_HINT = ("install Debian's bubblewrap (`sudo apt-get install bubblewrap`), or grade "
                "without a sandbox with --unsafe-no-sandbox (any submission can then read "
                "the reference solutions and change files and other grades)")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


def bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(f"the grading sandbox needs bubblewrap (bwrap): {INSTALL_HINT}")
    return path


def probe(workdir: Path) -> None:
    """Start the sandbox once with nothing in it: a machine or container that cannot create
    namespaces fails here, with bubblewrap's reason, not on every submission."""
    result = subprocess.run(wrap(["/bin/true"], workdir, {}), capture_output=True, text=True,
                            timeout=30, check=False)
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1:] or [f"status {result.returncode}"]
        raise SandboxUnavailable(f"bubblewrap cannot create its sandbox here ({reason[0]}): "
                                 f"{INSTALL_HINT}")


def _system_mounts() -> list[str]:
    """Read-only views of the system directories, merged-/usr symlinks kept as symlinks."""
    args = []
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _python_mounts() -> list[str]:
    """The interpreter, the environment's packages and the ``helpers`` package, read-only."""
    import helpers

    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(sys.executable).resolve().parent, Path(helpers.__file__).resolve().parent}
    args = []
    for path in sorted(paths):  # parents before children, so a child's bind is on top
        if not any(str(path).startswith(f"{p}/") for p in ("/usr", "/etc", "/opt", "/lib")):
            args += ["--ro-bind", str(path), str(path)]
    return args


def wrap(command: list[str], workdir: Path, env: dict[str, str]) -> list[str]:
    """``command`` run in the sandbox, with ``workdir`` (on the host) as its only writable
    directory, mounted at :data:`INSIDE`, and exactly the environment ``env``."""
    # an empty /tmp first: the mounts after it may lie below /tmp (an unpacked autograder)
    args = [bwrap(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            *_system_mounts(), *_python_mounts(),
            "--bind", str(workdir), str(INSIDE), "--chdir", str(INSIDE),
            "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *command]
