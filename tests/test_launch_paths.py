"""The launch paths: .ipynb twins for Colab, the Binder environment, the local Makefile."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line, following `-r other.txt` includes."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= pins((path.parent / line[3:].strip()).resolve())
        elif match := re.match(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line):
            found[match[1].lower()] = match[2]
    return found


def test_binder_asks_for_the_same_versions_as_requirements():
    assert pins(ROOT / "binder" / "requirements.txt") == pins(ROOT / "requirements.txt")
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text  # CPU-only torch
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_every_notebook_page_has_an_up_to_date_ipynb_twin():
    result = subprocess.run([sys.executable, "scripts/make_notebooks.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_exercise_notebooks_are_generated_from_the_solutions():
    result = subprocess.run([sys.executable, "scripts/make_exercises.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_twins_have_no_outputs_and_start_with_the_colab_cell():
    twins = [p for folder in ("chapters", "appendix", "exercises", "solutions")
             for p in sorted(ROOT.glob(f"{folder}/*.ipynb"))]
    assert len(twins) >= 19
    for twin in twins:
        notebook = nbformat.read(twin, as_version=4)
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
        first = notebook.cells[0]
        assert first.metadata["tags"] == ["colab-setup"]
        assert "google.colab" in first.source and "%pip install" in first.source


def test_the_colab_cell_does_nothing_outside_colab():
    twin = nbformat.read(ROOT / "chapters" / "01_partial_derivatives.ipynb", as_version=4)
    code = TransformerManager().transform_cell(twin.cells[0].source)
    calls = []
    namespace = {"get_ipython": lambda: type("Shell", (), {
        "run_line_magic": lambda self, *args: calls.append(args)})()}
    assert "google.colab" not in sys.modules
    exec(compile(code, "colab-cell", "exec"), namespace)
    assert calls == []
    sys.modules["google.colab"] = type(sys)("google.colab")  # pretend to be on Colab
    try:
        exec(compile(code, "colab-cell", "exec"), namespace)
    finally:
        del sys.modules["google.colab"]
    assert calls and calls[0][0] == "pip" and "git+https://github.com/" in calls[0][1]
