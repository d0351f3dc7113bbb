"""The operating-system sandbox a submission runs in: Debian's bubblewrap (``bwrap``).

A worker process started through :func:`wrap` sees

* the system (``/usr`` and its merged-/usr links), the Python installation and the virtual
  environment, read-only and ``nosuid``; of ``/etc`` only what the dynamic linker and Python
  read, and a ``passwd`` naming no one but the worker (no shadow, keys or host names);
* of the book's repository, only the installed ``helpers`` package, read-only: no
  ``solutions/``, hidden cases, other submissions or CSV files exist in its view;
* one writable place, ``/tmp``: a tmpfs of bounded size (``Limits.disk_bytes``) that exists
  only in the sandbox's own mount namespace, holding its copy of the notebook in
  ``/tmp/grading``. Nothing on the host is writable, so nothing it writes (a setuid binary, a
  large file) outlives it or is seen by anyone;
* no network, and its own PID namespace: it cannot see or signal the grader or other
  workers, and whatever it starts dies with it (``--die-with-parent``, and the namespace ends
  when its first process does); ``--new-session`` keeps it off the grader's terminal;
* no privileges, whoever starts the grader. An ordinary user's bubblewrap makes a user
  namespace with no capabilities and no further user namespaces. Root's bubblewrap would keep
  root's identity on the host (a user namespace made by root maps its uid to host root, and
  root owns ``/etc``), so as root the sandbox is entered without a user namespace and, before
  any code of the submission runs, ``setpriv`` becomes an unprivileged uid of the grader's
  own (:func:`worker_uid`), with no capabilities, an empty bounding set and ``no_new_privs``.
  Even the capabilities setpriv needs for that (setuid, setgid, setpcap) are all that
  bubblewrap keeps (``--cap-drop ALL`` and three ``--cap-add``). Either way a seccomp filter
  refuses new user namespaces (:func:`seccomp_filter`), and the worker is its namespace's
  init (``--as-pid-1``), which no process of the sandbox can kill.

bubblewrap is the tool Flatpak builds on; rewriting it here (namespaces by hand) would be
worse, and checking and restoring chosen folders after the fact cannot stop reads, processes
that outlive the run, or writes to files nobody thought to check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INSIDE = Path("/tmp/grading")  # the worker's directory, as the worker sees it
INSTALL_HINT = ("install Debian's bubblewrap (`sudo apt-get install bubblewrap`), or grade "
                "without a sandbox with --unsafe-no-sandbox (any submission can then read "
                "the reference solutions and change files and other grades)")
SETPRIV = "/usr/bin/setpriv"  # util-linux, in every Debian and Ubuntu base system
# What of /etc the worker reads: the dynamic linker's cache and configuration, the time zone,
# the name-service switch, the alternatives' links and Debian's python3 site customisation.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf",
             "alternatives", "fonts", "python3", f"python3.{sys.version_info.minor}")
# Uids the workers run as when the grader is root: one per parallel worker, so that the
# kernel's per-uid process limit (RLIMIT_NPROC) is a per-notebook limit. Debian allocates
# 60000-64999 to packages on demand; HELPERS_GRADING_UID moves the range.
DEFAULT_UID_BASE = 60100


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


def bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(f"the grading sandbox needs bubblewrap (bwrap): {INSTALL_HINT}")
    return path


def as_root() -> bool:
    return os.geteuid() == 0


def worker_uid(slot: int) -> int:
    """The uid of the ``slot``-th parallel worker when the grader is root."""
    base = os.environ.get("HELPERS_GRADING_UID", "")
    if base and not base.isdigit():
        raise SandboxUnavailable(f"HELPERS_GRADING_UID={base!r} is not a number: give the "
                                 "first of the unused uids the workers may run as")
    return (int(base) if base else DEFAULT_UID_BASE) + slot


def probe() -> None:
    """Start the sandbox once with nothing in it: a machine or container that cannot create
    namespaces fails here, with bubblewrap's reason, not on every submission."""
    if as_root() and not Path(SETPRIV).exists():
        raise SandboxUnavailable(f"as root the sandbox drops to an unprivileged uid with "
                                 f"{SETPRIV} (Debian's util-linux), which is missing")
    with wrapped(["/bin/true"], {}, {}, worker_uid(0), 1024**2) as (command, fds):
        result = subprocess.run(command, capture_output=True, text=True, timeout=30,
                                check=False, pass_fds=fds)
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1:] or [f"status {result.returncode}"]
        raise SandboxUnavailable(f"bubblewrap cannot create its sandbox here ({reason[0]}): "
                                 f"{INSTALL_HINT}")


def _system_mounts() -> list[str]:
    """Read-only views of the system directories, merged-/usr symlinks kept as symlinks, and
    the few files of /etc the worker needs."""
    args = []
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    return args


def site_folders() -> list[Path]:
    """The folders of installed packages this Python reads (its environment's, and any on
    PYTHONPATH): the worker reads the same ones. Only such folders: a script's own folder on
    sys.path may be the book's repository, solutions included."""
    return [Path(p).resolve() for p in sys.path
            if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


def _python_mounts() -> list[str]:
    """The interpreter, the environment's packages and the ``helpers`` package, read-only,
    with every folder above them made traversable (bubblewrap creates them 0700 as root, and
    the worker's uid must pass through them: a Python under /root, for one)."""
    import helpers

    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(sys.executable).resolve().parent, Path(helpers.__file__).resolve().parent,
             *site_folders()}
    args, made = [], set()
    for path in sorted(paths):  # parents before children
        if any(path.is_relative_to(p) for p in ("/usr", "/lib")) or \
                any(path != p and path.is_relative_to(p) for p in paths):
            continue  # in view already
        for parent in reversed(path.parents[:-1]):  # "/" itself is bubblewrap's own
            if parent not in made and not any(parent.is_relative_to(p) for p in paths):
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(path), str(path)]
    return args


def _identity(uid: int) -> dict[str, bytes]:
    """/etc/passwd and /etc/group as the worker sees them: no one but itself (and nobody)."""
    return {"/etc/passwd": (f"grader:x:{uid}:{uid}:grading worker:{INSIDE}:/usr/sbin/nologin\n"
                            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                            ).encode(),
            "/etc/group": f"grader:x:{uid}:\nnogroup:x:65534:\n".encode()}


@contextmanager
def wrapped(command: list[str], env: dict[str, str], files: dict[str, bytes], uid: int,
            disk_bytes: int) -> Iterator[tuple[list[str], tuple[int, ...]]]:
    """(argv, descriptors to pass) of ``command`` run in the sandbox with exactly the
    environment ``env``; ``files`` (name -> bytes) are copied into :data:`INSIDE` (from
    memory: nothing of the submission is written on the host); ``uid`` is the worker's uid
    when the grader is root (otherwise it runs as the grader's user); ``disk_bytes`` bounds
    its /tmp. The descriptors are closed on leaving: start the process inside the block."""
    uid = uid if as_root() else os.getuid()
    contents = {str(INSIDE / name): data for name, data in files.items()} | _identity(uid)
    fds = {path: _memory_file(data) for path, data in contents.items()}
    program = seccomp_filter()
    if program is not None:
        fds["--seccomp"] = _memory_file(program)
    try:
        args = [bwrap(), "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(disk_bytes), "--tmpfs", "/tmp",
                *_system_mounts(), *_python_mounts(), "--perms", "1777", "--dir", str(INSIDE)]
        for path, fd in fds.items():
            args += ["--seccomp", str(fd)] if path == "--seccomp" else \
                ["--perms", "0644", "--file", str(fd), path]
        args.append("--clearenv")  # before the variables it would clear
        for key, value in env.items():
            args += ["--setenv", key, value]
        # --as-pid-1: the worker is its namespace's init, which the kernel shields from
        # signals sent inside it: an answer cannot kill the process that reads the others
        args += ["--chdir", str(INSIDE), "--die-with-parent", "--new-session",
                 "--unshare-ipc", "--unshare-pid", "--as-pid-1", "--unshare-net",
                 "--unshare-uts", "--unshare-cgroup-try"]
        if as_root():
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                     "--cap-add", "CAP_SETPCAP", "--",
                     SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--"]
        else:  # an ordinary user's namespace: no capabilities, no nested namespaces
            args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--"]
        yield [*args, *command], tuple(fds.values())
    finally:
        for fd in fds.values():
            os.close(fd)


# -- no new user namespaces, as root too ------------------------------------------------------
# An ordinary user's bubblewrap disables them (--disable-userns sets the namespace's limit to
# 1), but that needs a user namespace of its own, which root's sandbox must not have (see the
# module's doc). So a seccomp filter refuses them: unshare() and clone() with CLONE_NEWUSER get
# EPERM, clone3() (whose flags lie in memory a filter cannot read) gets ENOSYS, so that the C
# library falls back to clone(), and any system call of another ABI (x32, 32-bit) gets EPERM.
# bubblewrap loads the filter (--seccomp FD) before it executes the command. libseccomp's
# Python binding is not on PyPI; the program is thirteen instructions of classic BPF, written out.
CLONE_NEWUSER = 0x10000000
SYSCALLS = {  # machine -> (audit arch, unshare, clone, clone3)
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}


def seccomp_filter() -> bytes | None:
    """The filter as bubblewrap reads it (struct sock_filter[]), or None on another machine."""
    import platform
    import struct

    if platform.machine() not in SYSCALLS:
        return None
    arch, unshare, clone, clone3 = SYSCALLS[platform.machine()]
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    program = [
        (load, 0, 0, 4),                 # 0: the system call's ABI
        (jeq, 1, 0, arch),               # 1: not this machine's own: refuse (9)
        (ret, 0, 0, eperm),              # 2
        (load, 0, 0, 0),                 # 3: its number
        (jge, 6, 0, 0x40000000),         # 4: x32's numbers: refuse
        (jeq, 6, 0, clone3),             # 5: -> 12
        (jeq, 1, 0, unshare),            # 6: -> 8
        (jeq, 0, 2, clone),              # 7: -> 8, else allow (10)
        (load, 0, 0, 16),                # 8: flags, the low half of its first argument
        (jset, 1, 0, CLONE_NEWUSER),     # 9: a new user namespace: refuse (11)
        (ret, 0, 0, allow),              # 10
        (ret, 0, 0, eperm),              # 11
        (ret, 0, 0, enosys),             # 12
    ]
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


def _memory_file(data: bytes) -> int:
    """A descriptor of ``data`` held in memory, read from its start (bubblewrap copies it)."""
    fd = os.memfd_create("grading", os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
