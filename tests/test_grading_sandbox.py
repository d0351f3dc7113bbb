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
from helpers.grading.submission import read_file
from helpers.grading.runner import Limits
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
    assert any("Read-only file system" in m or "No such file" in m
               for m in results["tamper"].messages), results["tamper"].messages
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
    assert rows[0]["sandbox"] == "bubblewrap" and float(rows[0]["q2"]) == 0
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
