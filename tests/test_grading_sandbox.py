"""Hostile submissions against the sandboxed grader (helpers/grading/sandbox.py).

Each test writes the notebooks a hostile class would submit and checks the outcome an
instructor must be able to rely on: the right grade for everyone else, a clear message for
the culprit, submissions and the repository byte-identical afterwards, and no process of the
batch alive once it returns.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from helpers.grading.__main__ import main as grading_cli
from helpers.grading.grade import Grader, solution_path
from helpers.grading.runner import Limits
from helpers.grading.submission import read_file
from tests.grading_notebooks import notebook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LIMITS = Limits(cells_seconds=12, cell_seconds=4, question_seconds=2, startup_seconds=8)
TOKEN = "hostile-submission-marker"  # in the command line of every process an attack starts


def repository_digest() -> str:
    """One hash of every tracked file of the repository, as it is on disk."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.split(b"\0")
    digest = hashlib.sha256()
    for name in filter(None, names):
        path = ROOT / name.decode()
        digest.update(name + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()


def survivors() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if TOKEN in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


@pytest.fixture
def batch(tmp_path):
    """grade(paths, jobs) -> results; checks the repository, the submissions and the
    process table afterwards."""
    before = repository_digest()
    submitted: dict[Path, bytes] = {}

    def grade(paths, jobs=2, limits=LIMITS):
        for path in paths:
            if path.is_file() and not path.is_symlink():
                submitted[path] = path.read_bytes()
        results = Grader(limits=limits).grade_all(paths, jobs=jobs)
        return {Path(r.submission).stem: r for r in results}

    yield grade
    assert survivors() == [], "a process of the batch outlived it"
    assert repository_digest() == before, "the batch changed the repository"
    for path, data in submitted.items():
        assert path.read_bytes() == data, f"{path.name} was changed"


def test_private_files_are_not_in_the_workers_view(tmp_path, batch):
    via_package = notebook(tmp_path, "via_package", blank=True, first_cell=(
        "import helpers, pathlib\n"
        "root = pathlib.Path(helpers.__file__).resolve().parents[1]\n"
        "print(sorted(p.name for p in root.iterdir()))\n"
        "exec((root / 'solutions' / '01_partial_derivatives.md').read_text())"))
    via_proc = notebook(tmp_path, "via_proc", blank=True, first_cell=(
        "import glob\n"
        "found = glob.glob('/proc/*/cwd/solutions') + glob.glob('/proc/*/root/work/*/solutions')"
        "\nassert found, 'nothing found'\nprint(found)"))
    results = batch([via_package, via_proc], limits=Limits())  # the default limits
    for name in ("via_package", "via_proc"):
        assert results[name].total == 0, results[name]
    assert any("FileNotFoundError" in m for m in results["via_package"].messages)
    assert any("nothing found" in m for m in results["via_proc"].messages)


def test_links_fifos_and_folders_are_refused_with_a_message(tmp_path, batch):
    link = tmp_path / "link.ipynb"
    link.symlink_to(solution_path("ch1").with_suffix(".ipynb"))
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.ipynb"
    folder.mkdir()
    honest = notebook(tmp_path, "honest")
    start = time.perf_counter()
    results = batch([link, fifo, folder, honest])
    assert time.perf_counter() - start < 60  # the FIFO did not block the batch
    assert "symbolic link" in results["link"].messages[0] and results["link"].total == 0
    assert "FIFO" in results["fifo"].messages[0]
    assert "folder" in results["folder"].messages[0]
    assert results["honest"].total == results["honest"].maximum
    with pytest.raises(OSError, match="symbolic link"):
        read_file(link)


def test_writes_outside_the_workers_folder_fail_and_change_nothing(tmp_path, batch):
    target = ROOT / "helpers" / "__init__.py"
    tamper = notebook(tmp_path, "tamper", first_cell=(
        f"open({str(target)!r}, 'a').write('\\nimport builtins\\n')"))
    blank_other_chapter = notebook(tmp_path, "blank_ch2", chapter="ch2", blank=True)
    results = batch([tamper, blank_other_chapter])
    refusals = ("Read-only file system", "No such file", "Permission denied")
    assert any(r in m for r in refusals for m in results["tamper"].messages), \
        results["tamper"].messages
    assert results["tamper"].total == results["tamper"].maximum  # its own answers still count
    assert results["blank_ch2"].total == 0


def test_background_processes_die_with_the_batch_and_touch_no_one_else(tmp_path, batch):
    attacker = notebook(tmp_path, "attacker", first_cell=(
        "import glob, os, subprocess, sys, time\n"
        "script = ('import glob, time\\n'\n"
        "          'for _ in range(600):\\n'\n"
        "          '    for p in glob.glob(\"/tmp/grading-*/submission.ipynb\") + '\n"
        "          'glob.glob(\"/tmp/*/submission.ipynb\"):\\n'\n"
        "          '        open(p, \"w\").write(\"{}\")\\n'\n"
        "          '    time.sleep(0.1)\\n')\n"
        f"for _ in range(20):\n"
        f"    subprocess.Popen([sys.executable, '-c', script, '{TOKEN}'], start_new_session=True)\n"
        "for _ in range(30):\n"
        "    if os.fork() == 0:\n"
        f"        os.execv('/bin/sleep', ['/bin/sleep', '300', '{TOKEN}'])\n"))
    honest = [notebook(tmp_path, f"honest{k}") for k in range(2)]
    results = batch([attacker, *honest], jobs=2, limits=Limits())  # the default limits
    for name in ("honest0", "honest1"):
        assert results[name].total == results[name].maximum, results[name].messages


def test_a_worker_cannot_kill_the_grader_or_poison_the_next_result(tmp_path, batch):
    killer = notebook(tmp_path, "killer", first_cell=(
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
        "os.kill(1, signal.SIGKILL)"))
    holder = notebook(tmp_path, "holder", first_cell=(
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    time.sleep(3)\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.write(fd, b'{\"answers\": {}, \"cell_errors\": []}')\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n"))
    honest = notebook(tmp_path, "honest")
    results = batch([killer, holder, honest], jobs=1)
    # The signals reach no one: the worker's parent is the sandbox's own init, which the
    # kernel shields from signals sent inside its namespace, and the grader is not visible.
    assert len(results) == 3 and results["killer"].total == results["killer"].maximum
    assert results["holder"].total == results["holder"].maximum, results["holder"].messages
    assert results["honest"].total == results["honest"].maximum, results["honest"].messages


def test_one_bad_answer_costs_one_question(tmp_path, batch):
    class_code = ("class Slow:\n    def __array__(self, *args, **kwargs):\n"
                  "        import time\n        time.sleep(600)\n")
    overflow = notebook(tmp_path, "overflow", answers={"q2": "q2 = 10**400"})
    blocking = notebook(tmp_path, "blocking", first_cell=class_code,
                        answers={"q2": "q2 = Slow()"})
    huge = notebook(tmp_path, "huge", answers={
        "q1": "def q1(p):\n    return np.ones(10**6)",
        "q3": "def q3(p, e):\n    return np.ones(10**6)"})
    results = batch([overflow, blocking, huge])
    full = {"q1": 2, "q2": 1, "q3": 2, "q4": 1}
    for name, bad in (("overflow", {"q2"}), ("blocking", {"q2"}), ("huge", {"q1", "q3"})):
        points = results[name].points
        assert all(points[q] == 0 for q in bad), (name, results[name].messages)
        assert all(points[q] == full[q] for q in full if q not in bad), (name, points)
    assert any("q2: raised OverflowError" in m for m in results["overflow"].messages)
    assert any("q2: raised TimeoutError" in m for m in results["blocking"].messages)
    assert any("too many" in m for m in results["huge"].messages)


def test_the_csv_is_readable_whatever_the_messages(tmp_path, batch):
    weird = notebook(tmp_path, "weird", first_cell=(
        "Odd = type('X' * 300_000, (), {})\n"), answers={"q2": "q2 = Odd()"})
    out = tmp_path / "grades.csv"
    assert grading_cli(["grade", "--out", str(out), "--jobs", "1", str(weird)]) == 0
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))  # Python's csv module, default field size limit
    assert rows[0]["sandbox"].startswith("bubblewrap (memory 2 GB") and float(rows[0]["q2"]) == 0
    assert len(rows[0]["messages"]) <= 2000
    assert not list(tmp_path.glob(".grades.csv.*"))  # the temporary file is gone


def test_the_limits_add_up(tmp_path):
    limits = Limits()
    # a looping answer uses up only its own time: the others keep theirs
    assert limits.wall_seconds(15) >= limits.startup_seconds + limits.cells_seconds + \
        15 * limits.question_seconds
    # a right answer that takes 6.5 s per call fits the default question limit
    assert limits.question_seconds > 6.5


def test_without_bubblewrap_the_grader_says_so(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    status = grading_cli(["grade", "--out", str(tmp_path / "g.csv"),
                          str(solution_path("ch1").with_suffix(".ipynb"))])
    assert status == 2
    error = capsys.readouterr().err
    assert "apt-get install bubblewrap" in error and "--unsafe-no-sandbox" in error
    assert not (tmp_path / "g.csv").exists()


def test_unsafe_mode_is_what_it_says_and_the_csv_says_so(tmp_path):
    out = tmp_path / "grades.csv"
    peeker = notebook(tmp_path, "peeker", chapter="ch3", blank=True, first_cell=(
        f"assert ({str(ROOT / 'solutions')!r} and __import__('os').path.isdir("
        f"{str(ROOT / 'solutions')!r})), 'no solutions in view'"))
    assert grading_cli(["grade", "--unsafe-no-sandbox", "--out", str(out), str(peeker)]) == 0
    with out.open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["sandbox"] == "NONE (--unsafe-no-sandbox)"
    assert "no solutions in view" not in row["messages"]  # it could see them: no sandbox


def test_references_are_pinned_before_any_submission_runs(tmp_path, monkeypatch):
    import helpers.grading.grade as grade

    order = []
    real_reference, real_run = grade.reference_answers, grade.run_notebook
    monkeypatch.setattr(grade, "reference_answers",
                        lambda chapter, *a, **k: order.append(("ref", chapter))
                        or real_reference(chapter, *a, **k))
    monkeypatch.setattr(grade, "run_notebook",
                        lambda *a, **k: order.append(("run", None)) or real_run(*a, **k))
    paths = [notebook(tmp_path, "a", chapter="ch3", blank=True),
             notebook(tmp_path, "b", chapter="ch4", blank=True)]
    Grader(limits=LIMITS).grade_all(paths, jobs=2)
    references = [i for i, (kind, _) in enumerate(order) if kind == "ref"]
    runs = [i for i, (kind, _) in enumerate(order) if kind == "run"]
    assert sorted(c for kind, c in order if kind == "ref") == ["ch3", "ch4"]
    # each reference run itself goes through run_notebook right after its "ref" entry
    assert max(references) + 1 < sorted(runs)[-2]


# ------------------------------------------------ the third round: privileges, limits, leaks
# Each attack reports what it managed in a cell error, "REPORT {json}", which the grader
# passes on (cell errors are fixed before any hidden case reaches the worker).

REPORT = "raise RuntimeError('REPORT ' + __import__('json').dumps(found))\n"
PRIVILEGES = {
    "capabilities": (
        "status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "found = {k: status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs')}\n"
        "found['uid'] = __import__('os').getuid()\n" + REPORT),
    "remount": (
        "import ctypes, os, subprocess, helpers\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "package = os.path.dirname(helpers.__file__)\n"
        "found = {'remounted': [libc.mount(b'none', p.encode(), None, 0x20 | 0x1000, None) == 0"
        "    for p in (package, '/usr', '/etc')]}\n"
        "try:\n"
        "    open(os.path.join(package, 'grading', 'answers.py'), 'a').write('\\n# owned')\n"
        "    found['wrote'] = True\n"
        "except OSError:\n"
        "    found['wrote'] = False\n"
        "found['nested'] = subprocess.run(['unshare', '-Urm', 'sh', '-c', 'mount -o remount,"
        "bind,rw ' + package + ' && touch ' + package + '/owned'], capture_output=True)"
        ".returncode\n" + REPORT),
    "userns": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "found = {'unshare': libc.unshare(0x10000000), 'errno': ctypes.get_errno()}\n"
        + REPORT),
    "etc": (
        "import os\n"
        "found = {'etc': sorted(os.listdir('/etc')), 'there': [p for p in ('/etc/shadow', "
        "'/root/.ssh', '/opt', '/home', '/var') if os.path.exists(p)]}\n" + REPORT),
    "setuid": (
        "import os, shutil\n"
        "shutil.copy('/bin/true', '/tmp/grading/suid-marker'); "
        "os.chmod('/tmp/grading/suid-marker', 0o4755)\n"
        "found = {'options': [l.split()[5] for l in open('/proc/self/mountinfo') "
        "if l.split()[4] == '/tmp']}\n" + REPORT),
    "tmpfs": (
        "written = 0\n"
        "try:\n"
        "    for k in range(40):  # files below the per-file size limit, 1.6 GB in all\n"
        "        with open(f'/tmp/fill{k}', 'wb') as f:\n"
        "            for _ in range(40):\n"
        "                f.write(b'x' * 1024**2); f.flush(); written += 1\n"
        "except OSError:\n"
        "    pass\n"
        "found = {'written_mb': written}\n" + REPORT),
}
RESOURCES = {  # graded as root, where the whole-notebook limits hold
    "memory": (
        "import os, time\n"
        "pids = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            block = b'x' * 1024**3\n"
        "            time.sleep(4)\n"
        "            os._exit(0)\n"
        "        except MemoryError:\n"
        "            os._exit(3)\n"
        "    pids.append(pid)\n"
        "found = {'children_holding_1GB': sum(os.waitpid(p, 0)[1] == 0 for p in pids)}\n"
        + REPORT),
    "processes": (
        "import os, time\n"
        "started = 0\n"
        "try:\n"
        "    for _ in range(600):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        started += 1\n"
        "except OSError:\n"
        "    pass\n"
        "found = {'processes': started}\n" + REPORT),
    "cpu": (
        "import os, time\n"
        "start, pids = time.time(), []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        end = time.time() + 4\n"
        "        while time.time() < end:\n"
        "            pass\n"
        "        os._exit(0)\n"
        "    pids.append(pid)\n"
        "for pid in pids:\n"
        "    os.waitpid(pid, 0)\n"
        "times = os.times()\n"
        "found = {'cpu': round(times.children_user + times.children_system, 2), "
        "'wall': round(time.time() - start, 2)}\n" + REPORT),
}


def reports(result) -> dict:
    import json
    import re

    text = " | ".join(result.messages)
    match = re.search(r"REPORT (\{.*?\})(?:;| \||$)", text)
    assert match, f"no report in {result.messages}"
    return json.loads(match.group(1))


def check_privileges(results: dict) -> None:
    """The outcome each privilege attack must have, whoever ran the grader."""
    caps = reports(results["capabilities"])
    assert caps["uid"] != 0 and caps["NoNewPrivs"] == "1", caps
    assert {caps[k] for k in ("CapEff", "CapPrm", "CapBnd")} == {"0" * 16}, caps
    remount = reports(results["remount"])
    assert remount == {"remounted": [False] * 3, "wrote": False,
                       "nested": remount["nested"]} and remount["nested"] != 0, remount
    assert reports(results["userns"])["unshare"] == -1, results["userns"].messages
    etc = reports(results["etc"])
    assert etc["there"] == [] and "shadow" not in etc["etc"] and "ssh" not in etc["etc"], etc
    assert set(etc["etc"]) <= {"passwd", "group", *__import__(
        "helpers.grading.sandbox", fromlist=["x"]).ETC_FILES}, etc
    setuid = reports(results["setuid"])
    assert "nosuid" in setuid["options"][0].split(","), setuid
    assert not list(Path("/tmp").glob("**/suid-marker")), "a file of the sandbox is on the host"
    assert reports(results["tmpfs"])["written_mb"] <= 512, results["tmpfs"].messages
    for name in ("honest_before", "honest_after"):
        assert results[name].total == results[name].maximum, results[name].messages


def test_no_privileges_and_bounded_resources_as_root(tmp_path, batch):
    """As root (CI, Docker, Gradescope): the attacks of the third round, with --jobs 2, and
    an honest classmate before and after them; the machine stays responsive meanwhile."""
    import threading

    if os.geteuid() != 0:
        pytest.skip("the root case needs root (CI runs as root)")
    from helpers.grading import cgroups

    paths = [notebook(tmp_path, "honest_before")]
    paths += [notebook(tmp_path, name, first_cell=code)
              for name, code in {**PRIVILEGES, **RESOURCES}.items()]
    paths.append(notebook(tmp_path, "honest_after"))
    worst, stop = [0.0], threading.Event()

    def watch() -> None:  # how late a 50 ms sleep of the grader's machine wakes up
        while not stop.is_set():
            start = time.perf_counter()
            time.sleep(0.05)
            worst[0] = max(worst[0], time.perf_counter() - start - 0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = batch(paths, jobs=2, limits=Limits(cells_seconds=40, cell_seconds=30,
                                                     question_seconds=2, startup_seconds=10))
    finally:
        stop.set()
        watcher.join()
    check_privileges(results)
    holding = cgroups.enforced()
    if "memory" in holding:
        memory = results["memory"]
        assert any("memory limit" in m for m in memory.messages) or \
            reports(memory)["children_holding_1GB"] <= 1, memory.messages
    if "pids" in holding:
        assert reports(results["processes"])["processes"] < 256, results["processes"].messages
    # its answers are still read, though its own processes fill its limit (review: all 0)
    assert results["processes"].total == results["processes"].maximum
    if "cpu" in holding:
        cpu = reports(results["cpu"])
        assert cpu["cpu"] <= 1.5 * cpu["wall"], cpu  # 4 spinners on 1 core's quota
    print(f"\nduring the attacks a 50 ms sleep woke at most {worst[0]:.3f} s late")
    assert worst[0] < 2.0, f"a 50 ms sleep woke {worst[0]:.2f} s late: the machine stalled"


STUDENT = "mvc4ml-test-student"  # the ordinary user the next test creates


def test_no_privileges_as_an_ordinary_user(tmp_path):
    """The same attacks, the grader started by an ordinary user (created for the test): its
    bubblewrap makes a user namespace, and the CSV says which limits hold there."""
    import csv
    import pwd
    import shutil
    import site
    import sys

    if os.geteuid() != 0:
        pytest.skip("creating the ordinary user needs root (CI runs as root)")
    if not Path("/usr/bin/python3").exists():
        pytest.skip("needs the system's Python to run as another user")
    try:
        pwd.getpwnam(STUDENT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", STUDENT], check=True)
    folder = Path(f"/tmp/{STUDENT}-{os.getpid()}")  # tmp_path is root's own (0700)
    folder.mkdir(mode=0o755)
    try:
        paths = [notebook(folder, "honest_before")]
        paths += [notebook(folder, name, first_cell=code) for name, code in PRIVILEGES.items()]
        paths.append(notebook(folder, "honest_after"))
        shutil.chown(folder, STUDENT)
        out = folder / "grades.csv"
        # The system's Python (the venv's lies under /root, which this user cannot enter)
        # with this environment's packages, which are built for the same Python version.
        packages = ":".join([str(ROOT), *site.getsitepackages()])
        run = subprocess.run(
            ["setpriv", f"--reuid={STUDENT}", f"--regid={STUDENT}", "--init-groups",
             "/usr/bin/python3", "-m", "helpers.grading", "grade", "--jobs", "2",
             "--timeout", "30", "--out", str(out), *map(str, paths)],
            cwd=folder, env={"PATH": "/usr/bin:/bin", "HOME": str(folder),
                             "PYTHONPATH": packages}, capture_output=True, text=True,
            timeout=600, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        assert f"{sys.version_info.major}.{sys.version_info.minor}" in subprocess.run(
            ["/usr/bin/python3", "--version"], capture_output=True, text=True).stdout
        with out.open(newline="") as handle:
            rows = {Path(r["submission"]).stem: r for r in csv.DictReader(handle)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    class Row:  # what check_privileges reads of a result
        def __init__(self, row):
            self.messages = row["messages"].split(" | ")
            self.total, self.maximum = float(row["total"]), float(row["max"])

    check_privileges({name: Row(row) for name, row in rows.items()})
    sandbox = rows["honest_before"]["sandbox"]
    assert sandbox.startswith("bubblewrap (") and "per process only" in sandbox, sandbox


def hidden_inputs(chapter: str, question: str) -> list[str]:
    import json

    cases = json.loads((ROOT / "solutions" / "hidden_cases.json").read_text())[chapter][question]
    return [str(value) for case in cases for value in case]


def test_feedback_gives_no_answer_away(tmp_path, batch):
    """No expected value of a value question, nothing of a hidden case (its input, its
    output, the student's text on it), and factor hints only for 2, 1/2 and -1."""
    wrong_value = notebook(tmp_path, "wrong_value", answers={"q2": "q2 = 0.0"})
    raiser = notebook(tmp_path, "raiser", answers={  # right on the public cases only
        "q1": "def q1(p):\n    x, y = p\n    if x not in (0.0, 1.0):\n"
              "        raise ValueError(f'LEAK {list(p)}')\n    s = np.logaddexp(x, y)\n"
              "    return np.array([np.exp(x - s), np.exp(y - s)])"})
    request_reader = notebook(tmp_path, "request_reader", first_cell=(
        "import sys\nraise RuntimeError('REQUEST ' + open('request.json').read()[-150:])"))
    near = notebook(tmp_path, "near", answers={
        "q1": "def q1(p):\n    x, y = p\n    s = np.logaddexp(x, y)\n"
              "    return 0.9845 * np.array([np.exp(x - s), np.exp(y - s)])"})
    doubled = notebook(tmp_path, "doubled", answers={
        "q1": "def q1(p):\n    x, y = p\n    s = np.logaddexp(x, y)\n"
              "    return 2 * np.array([np.exp(x - s), np.exp(y - s)])"})
    results = batch([wrong_value, raiser, request_reader, near, doubled])
    everything = " ".join(m for r in results.values() for m in r.messages)
    assert "q2: not the expected value" in results["wrong_value"].messages
    assert "expected 5" not in everything and "5.0" not in everything
    for value in hidden_inputs("ch1", "q1"):
        assert value not in everything, f"hidden input {value} in the feedback"
    assert "raised an error on a hidden case" in " ".join(results["raiser"].messages)
    raised = results["raiser"].messages[0].split("; ")
    assert all("at input" in m for m in raised if "LEAK" in m), raised  # public ones only
    assert "REQUEST" in " ".join(results["request_reader"].messages)
    assert "factor" not in " ".join(results["near"].messages)
    assert "wrong value on a hidden case (off by a factor of 2)" in \
        " ".join(results["doubled"].messages)


def test_one_crash_or_hang_costs_one_question(tmp_path, batch):
    segfault = notebook(tmp_path, "segfault", answers={
        "q1": "def q1(p):\n    import ctypes\n    if p[0] == 0.0:  # a case the grader reads\n"
              "        ctypes.string_at(0)\n    return np.ones(2)"})
    hang = notebook(tmp_path, "hang", answers={
        "q3": "def q3(p, step):\n    import signal, time\n    if p[0] == 1.0:\n"
              "        signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
              "        signal.setitimer(signal.ITIMER_REAL, 0)\n        time.sleep(600)\n"
              "    return np.zeros(2)"})
    exits = notebook(tmp_path, "exits", answers={  # only when the grader calls it
        "q5": "def q5(w, x, y):\n    import os, sys\n"
              "    if 'answers' in sys._getframe(1).f_code.co_filename:\n        os._exit(0)\n"
              "    return 0.0"})
    graders_only = "    if 'answers' in sys._getframe(1).f_code.co_filename:\n"
    # Found by the adversarial review: an answer that kills the process reading the others,
    # or writes to the grader's channel and closes it.
    killers = {name: notebook(tmp_path, name, answers={"q5": (
        "def q5(w, x, y):\n    import os, signal, sys\n" + graders_only + f"        {kill}\n"
        "    return 0.0")}) for name, kill in {
            "kill_parent": "os.kill(os.getppid(), signal.SIGKILL)",
            "kill_group": "os.killpg(0, signal.SIGKILL)",
            "kill_all": "os.kill(-1, signal.SIGKILL)",
            "channel": "[os.write(fd, b'{}\\n' * 9) for fd in range(3, 64) if os.path.exists("
                       "f'/proc/self/fd/{fd}')]; os.kill(os.getppid(), 9)"}.items()}
    start = time.perf_counter()
    results = batch([segfault, hang, exits, *killers.values()])
    assert time.perf_counter() - start < 120
    full = {"q1": 2, "q2": 1, "q3": 2, "q4": 1, "q5": 2, "q6": 2}
    for name, bad in (("segfault", "q1"), ("hang", "q3"), ("exits", "q5"),
                      *((name, "q5") for name in killers)):
        points = results[name].points
        assert points[bad] == 0 and all(points[q] == full[q] for q in full if q != bad), \
            (name, results[name].messages)
    assert "signal 11" in " ".join(results["segfault"].messages)
    assert "took too long" in " ".join(results["hang"].messages)


def test_outputs_over_the_size_limit_are_stripped(tmp_path, batch):
    import nbformat

    path = notebook(tmp_path, "printed")
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                  text="x" * (25 * 1024**2))]
    nbformat.write(nb, path)
    results = batch([path])
    assert results["printed"].total == results["printed"].maximum
    assert any("outputs stripped" in m for m in results["printed"].messages)


def test_the_csv_neutralises_formulas(tmp_path):
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    names = ["=HYPERLINK(\"https:x.example\",\"y\")", "+1", "-1", "@SUM(A1)"]
    for name in names:
        shutil.copy(solution_path("ch1").with_suffix(".ipynb"), folder / f"{name}.ipynb")
    out = tmp_path / "grades.csv"
    assert grading_cli(["grade", "--out", str(out), "--jobs", "2",
                        *(str(folder / f"{n}.ipynb") for n in names)]) == 0
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))  # csv still reads it
    assert len(rows) == 4 and all(float(r["total"]) == 10 for r in rows)
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_identity_comes_from_the_folder_and_duplicates_are_flagged(tmp_path):
    from helpers.grading import course as course_kit

    roster = tmp_path / "roster.csv"
    roster.write_text("id\nalice\nbob\n")
    made = course_kit.init(tmp_path / "course", roster, book_root=tmp_path)
    grader = Grader(course=made, limits=LIMITS)
    handed = course_kit.write_notebooks(made, grader, tmp_path / "out", ["ch1"], ROOT)
    bobs = next(p for p in handed if p.name.startswith("bob__"))
    lms = tmp_path / "lms"
    (lms / "alice").mkdir(parents=True)
    (lms / "bob").mkdir()
    (lms / "alice" / bobs.name).write_bytes(bobs.read_bytes())  # alice hands in bob's
    (lms / "bob" / bobs.name).write_bytes(bobs.read_bytes())
    (lms / "bob" / "again.ipynb").write_bytes(bobs.read_bytes())
    (lms / "alice" / "sub").mkdir()  # one folder down (the adversarial review)
    (lms / "alice" / "sub" / bobs.name).write_bytes(bobs.read_bytes())
    (lms / "mallory__01.ipynb").write_bytes(bobs.read_bytes())
    results = grader.grade_all(sorted(lms.rglob("*.ipynb")), jobs=2)
    by_path = {Path(r.submission).relative_to(lms).as_posix(): r for r in results}
    alice = by_path[f"alice/{bobs.name}"]
    assert alice.student == "alice"
    assert any("names 'bob'" in f for f in alice.flags), alice.flags
    assert any("made for student 'bob'" in f for f in alice.flags), alice.flags
    nested = by_path[f"alice/sub/{bobs.name}"]
    assert nested.student == "alice" and any("names 'bob'" in f for f in nested.flags)
    assert "'mallory', who is not on the course's roster" in \
        by_path["mallory__01.ipynb"].messages[0]
    for name in (f"bob/{bobs.name}", "bob/again.ipynb"):
        assert by_path[name].student == "bob"
        assert any("2 submissions of ch1 for bob" in f for f in by_path[name].flags)


# ----------------------------------------- every field of a submission is untrusted (fuzzed)

def _json_values():
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | \
        st.text(max_size=20) | st.sampled_from(["ch1", "code", "markdown", "answer"])
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["chapter", "grading", "tags", "source", "cell_type", "metadata",
                         "cells", "student", "seed", "x"]), inner, max_size=4), max_leaves=12)


def _malformed():
    """A ch1 solution with one part of it (metadata, a cell, a field of a cell) replaced by
    any JSON value."""
    import json

    from hypothesis import strategies as st

    base = json.loads(solution_path("ch1").with_suffix(".ipynb").read_text())
    places = st.sampled_from(["metadata", "metadata.grading", "metadata.grading.chapter",
                              "cells", "cells.0", "cells.1.source", "cells.1.cell_type",
                              "cells.1.metadata", "cells.1.metadata.tags", "nbformat",
                              "whole"])

    def replace(place: str, value) -> bytes:
        document = json.loads(json.dumps(base))
        if place == "whole":
            return json.dumps(value).encode()
        *parents, last = place.split(".")
        target = document
        for key in parents:
            target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
        target[int(last) if last.isdigit() else last] = value
        return json.dumps(document).encode()

    return st.builds(replace, places, _json_values())


def test_one_malformed_notebook_never_stops_the_batch(tmp_path, monkeypatch):
    """Hypothesis over notebook JSON: a batch of one malformed notebook and an honest one
    always gives a row to each. The workers are stubbed (hundreds of examples); what reaches
    them must be a notebook nbformat accepts. The real sandbox runs the issue's cases below."""
    import json

    import nbformat
    from hypothesis import HealthCheck, given, settings

    import helpers.grading.grade as grade

    def stub(data, questions, cases, *args, **kwargs):
        nbformat.validate(nbformat.reads(data.decode(), as_version=4))
        return {"cell_errors": [], "answers": {q.name: [None] * (
            len(cases[q.name]) + len(kwargs.get("hidden", {}).get(q.name, [])))
            for q in questions}}

    grader = Grader(limits=LIMITS)
    grader.expected("ch1")  # the real reference run, before the stub
    monkeypatch.setattr(grade, "run_notebook", stub)
    honest = solution_path("ch1").with_suffix(".ipynb")

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_malformed())
    def check(data: bytes) -> None:
        path = tmp_path / "malformed.ipynb"
        path.write_bytes(data)
        results = grader.grade_all([path, honest], jobs=2)
        assert [r.submission for r in results] == [str(path), str(honest)]
        assert results[0].messages or results[0].chapter == "ch1", results[0]
        json.dumps([r.__dict__ for r in results])  # plain data: the CSV can hold it

    check()


def test_malformed_metadata_gets_a_row_in_the_real_sandbox(tmp_path):
    import json

    base = json.loads(solution_path("ch1").with_suffix(".ipynb").read_text())
    variants = {
        "chapter_list": lambda nb: nb["metadata"]["grading"].update(chapter=["ch1"]),
        "grading_number": lambda nb: nb["metadata"].update(grading=7),
        "cell_number": lambda nb: nb["cells"].insert(0, 42),
        "source_dict": lambda nb: nb["cells"][1].update(source={"a": 1}),
        "tags_string": lambda nb: nb["cells"][1]["metadata"].update(tags="answer"),
    }
    paths = []
    for name, change in variants.items():
        document = json.loads(json.dumps(base))
        change(document)
        path = tmp_path / f"{name}.ipynb"
        path.write_text(json.dumps(document))
        paths.append(path)
    deep = tmp_path / "deep.ipynb"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    paths += [deep, solution_path("ch1").with_suffix(".ipynb")]
    out = tmp_path / "grades.csv"
    assert grading_cli(["grade", "--chapter", "ch1", "--out", str(out), "--jobs", "2",
                        *map(str, paths)]) == 0
    with out.open(newline="") as handle:
        rows = {Path(r["submission"]).stem: r for r in csv.DictReader(handle)}
    assert len(rows) == len(paths)
    assert "metadata.grading.chapter is a list" in rows["chapter_list"]["messages"]
    assert float(rows["chapter_list"]["total"]) == 10  # graded as --chapter says
    assert "metadata.grading is a number" in rows["grading_number"]["messages"]
    assert "cell 0 is a number" in rows["cell_number"]["messages"]
    assert "source is an object" in rows["source_dict"]["messages"]
    assert float(rows["tags_string"]["total"]) == 10
    assert "not a valid notebook" in rows["deep"]["messages"]


def test_a_cell_that_ignores_its_alarm_costs_the_later_cells_only(tmp_path, batch):
    """(The adversarial review.) The cell is abandoned once the cells' time and a grace are
    over, and the answers defined before it are read: not the whole run's limit later."""
    path = notebook(tmp_path, "deaf")
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import signal, time\nsignal.setitimer(signal.ITIMER_REAL, 0)\n"
        "for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):\n"
        "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)"))
    nbformat.write(nb, path)
    start = time.perf_counter()
    results = batch([path])
    assert time.perf_counter() - start < LIMITS.cells_seconds + 30
    assert results["deaf"].total == results["deaf"].maximum, results["deaf"].messages
    assert "did not stop at its time limit" in " ".join(results["deaf"].messages)


def test_the_summary_shows_escape_sequences_and_does_not_obey_them():
    from helpers.grading.__main__ import _summary
    from helpers.grading.grade import Result

    shown = _summary([Result(submission="x\x1b[2J\x1b]0;PWNED\x07y.ipynb",
                             messages=["not a valid notebook"])])
    assert "\x1b" not in shown and "\x07" not in shown and "\\x1b[2J" in shown
