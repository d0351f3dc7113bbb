"""The Colab path: the wheel with its `notebooks` extra, installed into a fresh environment that
holds what Colab's runtime ships (IPython 7.34, ipywidgets 7.7, ipykernel 6.17), changes none
of it, and runs an exercise notebook and a live explorer there.

The environment is installed from the package index (as `make install` is), so this test
needs the network that CI and a contributor's machine have.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_wheel import ROOT, build_wheel

pytestmark = pytest.mark.slow

# What Colab's runtime ships (and what its kernel has imported before any cell runs).
COLAB = {"ipython": "7.34.0", "ipywidgets": "7.7.1", "ipykernel": "6.17.1"}

RUN = r'''
import json, sys
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
notebook.cells.append(nbformat.v4.new_code_cell(sys.argv[2]))
NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
print(json.dumps([[o.get("text", "") for o in c.get("outputs", []) if o.get("output_type") ==
                   "stream"] for c in notebook.cells if c.cell_type == "code"]))
'''

# A live explorer as a reader drives it: the slider moves, the figure is drawn again.
EXPLORER = '''
import numpy as np, helpers, ipywidgets
f = lambda p: np.logaddexp(p[0], p[1])
grad_f = lambda p: np.exp(np.stack([p[0], p[1]]) - f(p))
explorer = helpers.LinearApproximationExplorer(f, grad_f)
drawn, figure = [], explorer.figure
explorer.figure = lambda: drawn.append(figure()) or drawn[-1]  # count the redraws
box = explorer.widget()
slider = box.children[0].children[0]
slider.value = 1.25
print("EXPLORER", ipywidgets.__version__, explorer.state["x"], len(drawn),
      type(drawn[-1]).__name__)
'''


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True,
                          check=False, timeout=900)


def versions(python: Path) -> dict[str, str]:
    listed = json.loads(pip(python, "list", "--format", "json").stdout)
    return {p["name"].lower(): p["version"] for p in listed}


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    base = tmp_path_factory.mktemp("colab")
    wheel = build_wheel(base)
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    python = base / "venv" / "bin" / "python"
    pinned = [f"{name}=={version}" for name, version in COLAB.items()]
    result = pip(python, "install", "--quiet", "numpy", "matplotlib", "nbclient", *pinned)
    assert result.returncode == 0, result.stderr[-3000:]
    return python, wheel


def test_the_notebooks_extra_changes_nothing_that_colab_ships(colab):
    python, wheel = colab
    before = versions(python)
    assert {name: before[name] for name in COLAB} == COLAB
    report = pip(python, "install", "--dry-run", "--quiet", "--report", "-",
                 f"{wheel}[notebooks]")
    assert report.returncode == 0, report.stderr[-3000:]
    planned = [item["metadata"]["name"] for item in json.loads(report.stdout)["install"]]
    assert planned == ["mvc4ml-helpers"], planned  # nothing of Colab's upgraded
    result = pip(python, "install", "--quiet", f"{wheel}[notebooks]")
    assert result.returncode == 0, result.stderr[-3000:]
    after = versions(python)
    assert {name: version for name, version in after.items() if name != "mvc4ml-helpers"} \
        == before


def test_an_exercise_notebook_and_an_explorer_run_in_colabs_kernel(colab, tmp_path):
    python, wheel = colab
    assert pip(python, "install", "--quiet", f"{wheel}[notebooks]").returncode == 0
    notebook = tmp_path / "02_gradient_descent.ipynb"
    notebook.write_bytes((ROOT / "solutions" / notebook.name).read_bytes())
    result = subprocess.run([str(python), "-c", RUN, str(notebook), EXPLORER], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.splitlines()[-1])
    checks = ["".join(o) for o in outputs if "".join(o).startswith("q")]
    assert checks and all(": passed" in c or ": recorded" in c for c in checks), checks
    explorer = "".join(outputs[-1])
    # drawn when shown, and again for the slider's new value
    assert explorer.strip() == f"EXPLORER {COLAB['ipywidgets']} 1.25 2 Figure", explorer
