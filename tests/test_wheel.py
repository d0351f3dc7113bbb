"""The package as a student installs it: a wheel in a fresh virtual environment, run outside the
repository, executes every exercise check and every notebook twin (the Colab path).

The fresh environment gets the wheel only. The heavy dependencies (NumPy, matplotlib, PyTorch,
TensorFlow, the Jupyter kernel) are borrowed from the test's own environment through a path
file, so the test needs no network and installs nothing large; the editable install of
`helpers` in that environment is not visible there (path files of a borrowed directory are
not processed), which the test checks.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TWIN_FOLDERS = ("chapters", "appendix", "solutions", "exercises")

RUN_TWINS = r'''
import json, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

results = {}
for path in map(Path, sys.argv[1:]):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import helpers, resource, sys\nprint('HELPERS', helpers.__file__)\n"
        "print('PYTHON', sys.executable)\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"))
    start = time.perf_counter()
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [[o.get("text", "") for o in cell.get("outputs", [])
                if o.get("output_type") == "stream"] for cell in notebook.cells
               if cell.cell_type == "code"]
    results[str(path)] = {"seconds": time.perf_counter() - start, "outputs": outputs,
                          "sources": [c.source for c in notebook.cells if c.cell_type == "code"]}
print(json.dumps(results))
'''


def build_wheel(base: Path) -> Path:
    """The book's wheel, built in ``base`` from a copy of what it is made of (setuptools
    writes build/ beside its source)."""
    source = base / "source"
    shutil.copytree(ROOT / "helpers", source / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(base / "dist"), str(source)],
                   check=True, capture_output=True)
    (wheel,) = (base / "dist").glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def student_env(tmp_path_factory):
    """A fresh venv holding the book's wheel, and a working folder outside the repository."""
    base = tmp_path_factory.mktemp("student")
    wheel = build_wheel(base)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base / "venv")],
                   check=True)
    python = base / "venv" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    Path(site.stdout.strip(), "borrowed-from-the-book-env.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    work = base / "work"
    work.mkdir()
    return python, work


def run(python: Path, work: Path, code: str, *args: str) -> str:
    result = subprocess.run([str(python), "-c", code, *args], cwd=work, capture_output=True,
                            text=True, timeout=1800, env={"PATH": f"{python.parent}:/usr/bin:/bin",
                                                          "HOME": str(work),
                                                          "MPLBACKEND": "Agg"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_wheel_carries_the_checker_and_its_data(student_env):
    python, work = student_env
    out = run(python, work, "import helpers, helpers.grading as g, os, sys\n"
                            "from helpers.grading.public import PUBLIC_EXPECTED\n"
                            "print(helpers.__file__); print(PUBLIC_EXPECTED.is_file())\n"
                            "print(sys.argv[1] in map(os.path.abspath, sys.path))", str(ROOT))
    location, has_data, repo_on_path = out.split()
    assert str(python.parents[1]) in location and has_data == "True"
    assert str(ROOT) not in location and repo_on_path == "False"


def test_the_students_check_command_needs_nothing_private(student_env):
    """`python -m helpers.grading check` from the wheel, no solutions/ anywhere: it uses
    the public cases and their shipped expected answers only."""
    python, work = student_env
    for folder in ("exercises", "solutions"):
        (work / folder).mkdir(exist_ok=True)
        name = f"{folder}/05_hessians.ipynb"
        (work / name).write_bytes((ROOT / name).read_bytes())
    blank = run(python, work, "from helpers.grading.__main__ import main; main()", "check",
                "exercises/05_hessians.ipynb")
    solved = run(python, work, "from helpers.grading.__main__ import main; main()", "check",
                 "solutions/05_hessians.ipynb")
    assert "q1: returned None: not answered yet" in blank
    assert "score on the public cases: 0 / 9" in blank
    assert "q3: passed (3 public cases)" in solved
    assert "score on the public cases: 9 / 9" in solved


def test_every_twin_runs_from_the_installed_package(student_env):
    python, work = student_env
    twins = []
    for folder in TWIN_FOLDERS:
        (work / folder).mkdir(exist_ok=True)
        for twin in sorted((ROOT / folder).glob("*.ipynb")):
            twins.append(work / folder / twin.name)
            twins[-1].write_bytes(twin.read_bytes())
    (work / "notation.ipynb").write_bytes((ROOT / "notation.ipynb").read_bytes())
    twins.append(work / "notation.ipynb")
    start = time.perf_counter()
    results = json.loads(run(python, work, RUN_TWINS, *map(str, twins)).splitlines()[-1])
    assert len(results) == len(twins) >= 20
    for path, result in results.items():
        text = "".join("".join(o) for o in result["outputs"])
        assert f"HELPERS {python.parents[1]}" in text, path  # the wheel, not the repository
        assert "myst_nb" not in "".join(result["sources"]), path
        checks = [o for src, o in zip(result["sources"], result["outputs"], strict=True)
                  if src.startswith("check(")]
        if "/exercises/" in path:
            assert checks and all("not answered yet" in "".join(o) for o in checks), path
        if "/solutions/" in path:
            assert checks and all("".join(o).split(": ", 1)[1].startswith(("passed", "recorded"))
                                  for o in checks), (path, checks)
    # What a student waits for each notebook (kernel start included), and the most memory
    # its kernel held (Binder gives 2 GB to all open kernels together), kept for the README.
    measured = {Path(p).relative_to(work).as_posix(): {
        "seconds": round(r["seconds"], 1),
        "peak_mb": round(int(re.search(r"PEAK (\d+)", "".join(map("".join, r["outputs"])))[1])
                         / 1024)} for p, r in results.items()}
    measured["total_seconds"] = round(time.perf_counter() - start)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "twins.json").write_text(json.dumps(measured, indent=1) + "\n")

