"""The launch paths: .ipynb twins for Colab, the Binder environment, the local Makefile."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from scripts.make_notebooks import as_ipynb, notebook_sources, without_work, work_in
from scripts.plain_notebook import (
    MystSyntaxError,
    convert_markdown,
    leftover_myst,
    plain_cells,
    reader_code,
    target_numbers,
)

ROOT = Path(__file__).resolve().parents[1]
TWINS = [*sorted(p for folder in ("chapters", "appendix", "exercises", "solutions")
                for p in ROOT.glob(f"{folder}/*.ipynb")), ROOT / "notation.ipynb"]


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
    assert len(TWINS) >= 20
    for twin in TWINS:
        notebook = nbformat.read(twin, as_version=4)
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
        first = notebook.cells[0]
        assert first.metadata["tags"] == ["colab-setup"]
        assert "google.colab" in first.source and "%pip install" in first.source
        assert "mvc4ml-helpers[notebooks] @ git+https://" in first.source


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


def test_twins_are_plain_jupyter_notebooks():
    """No MyST directive, role, option line or glue left; no website-only cell; framework
    cells labelled."""
    for twin in TWINS:
        notebook = nbformat.read(twin, as_version=4)
        assert leftover_myst(notebook) == [], twin
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        assert "myst_nb" not in code and "glue(" not in code, twin
        assert "scrubber(" not in code, twin  # the live explorer only
        for number, cell in enumerate(notebook.cells):
            if any(t.startswith("framework-") for t in cell.metadata.get("tags", [])):
                label = notebook.cells[number - 1]
                assert label.cell_type == "markdown" and "version**" in label.source, twin


def test_chapter_twins_read_as_the_website_does():
    notebook = nbformat.read(ROOT / "chapters" / "01_partial_derivatives.ipynb", as_version=4)
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "**Definition (Partial derivative).**" in text
    assert "[Notation and conventions](../notation.ipynb)" in text
    glued = json.loads((ROOT / "scripts" / "glued_values.json").read_text())
    slope = float(glued["chapters/01_partial_derivatives"]["ch1_slope"])
    assert f"The fitted slope is {slope:.3f}" in text
    exercises = nbformat.read(ROOT / "exercises" / "01_partial_derivatives.ipynb", as_version=4)
    headings = [c.source.splitlines()[0] for c in exercises.cells if c.cell_type == "markdown"]
    assert "### Exercise 1.1: The gradient of log-sum-exp" in headings


def test_opening_and_saving_a_page_changes_no_file():
    """What jupytext (for .md pages) and nbformat (for .ipynb twins) write on save is the file
    as it is; and the kernelspec is the one Jupyter writes for the installed kernel."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    display_name = KernelSpecManager().get_kernel_spec("python3").display_name
    for source in notebook_sources():
        text = source.read_text()
        page = jupytext.reads(text, fmt="md:myst")
        assert jupytext.writes(page, fmt="md:myst") == text, source
        assert page.metadata["kernelspec"]["display_name"] == display_name, source
    for twin in TWINS:
        text = twin.read_text()
        notebook = nbformat.reads(text, as_version=4)
        assert nbformat.writes(notebook) + "\n" == text, twin
        assert notebook.metadata.kernelspec.display_name == display_name, twin
        assert notebook.metadata.language_info == IPythonKernel.language_info, twin


def test_a_twin_holding_a_students_work_is_left_alone(tmp_path):
    source = ROOT / "exercises" / "01_partial_derivatives.md"
    expected = (ROOT / "exercises" / "01_partial_derivatives.ipynb").read_text()
    twin = tmp_path / "01_partial_derivatives.ipynb"
    twin.write_text(expected)
    assert work_in(twin, expected) is None
    notebook = nbformat.reads(expected, as_version=4)
    answer = next(c for c in notebook.cells if "answer" in c.metadata.get("tags", []))
    answer.source = "def q1(p):\n    return p"
    check = next(c for c in notebook.cells if c.source.startswith("check("))
    check.outputs = [nbformat.v4.new_output("stream", text="q1: passed\n")]
    notebook.metadata["widgets"] = {"state": {}}  # as Jupyter may add on save
    nbformat.write(notebook, twin)
    assert work_in(twin, expected) == "answers"
    assert without_work(twin, expected) == expected  # nothing else differs: not stale
    stale = expected.replace("Write a function `q1(p)`", "Write `q1(p)`")
    assert without_work(twin, stale) != stale  # stale and holding work: reported, kept
    assert as_ipynb(source, {}, {}) == expected


def test_myst_blocks_and_roles_become_plain_markdown():
    page = Path("chapters/example.md")
    text = ("```{prf:theorem} Schwarz\n:label: thm-x\n\nIf $f$ is $C^2$, then\n\n"
            "$$\nH = H^T\n$$\n```")
    assert convert_markdown(text, page, {}, str, {}) == (
        "**Theorem (Schwarz).**\n\nIf $f$ is $C^2$, then\n\n$$\nH = H^T\n$$")
    exercise = "````{exercise} A title\n:label: ch2-q3\n\nDo it.\n````"
    assert convert_markdown(exercise, page, {}, str, {}) == "### Exercise 2.3: A title\n\nDo it."
    glue = "slope {glue:text}`k:.2f` and {glue:text}`n`"
    assert convert_markdown(glue, page, {"k": "1.999", "n": "'x'"}, str, {}) == "slope 2.00 and x"
    link = "see {doc}`../notation`"
    assert convert_markdown(link, page, {}, lambda p: "Notation", {}) == \
        "see [Notation](../notation.ipynb)"
    exercises = "{ref}`Exercises for chapter 4 <ch4-exercises>`"
    assert convert_markdown(exercises, page, {}, str, {}) == \
        "[Exercises for chapter 4](../exercises/04_backpropagation.ipynb)"
    cite = "as in {cite:p}`deisenroth2020mml,parr2018matrix`; {cite:t}`nocedal2006numerical`"
    assert convert_markdown(cite, page, {}, str, {}) == (
        "as in [[Deisenroth et al., 2020](https://mml-book.github.io/); "
        "[Parr and Howard, 2018](https://arxiv.org/abs/1802.01528)]; Nocedal and Wright [2006]")
    for unknown in ("```{figure} a.png\n```", "{ref}`some-section`", "{cite:p}`nobody2000`",
                    "{eq}`e1`", "{numref}`fig-x`", "{glue:text}`missing`", "{cite}`key`"):
        with pytest.raises(MystSyntaxError):
            convert_markdown(unknown, page, {}, str, {})


def test_figures_and_equations_keep_the_websites_numbers_in_a_twin():
    figure = {"mystnb": {"figure": {"name": "fig-a", "caption": "As in {eq}`eq-b`."}}}
    cells = [nbformat.v4.new_markdown_cell("$$\nx = 1\n$$ (eq-a)\n\ntext\n\n$$\ny\n$$ (eq-b)"),
             nbformat.v4.new_code_cell("plot()", metadata=figure),
             nbformat.v4.new_code_cell("scrubber()", metadata={
                 "tags": ["website-only"], "mystnb": {"figure": {"name": "fig-w"}}}),
             nbformat.v4.new_code_cell("plot()",
                                       metadata={"mystnb": {"figure": {"name": "fig-c"}}}),
             nbformat.v4.new_markdown_cell("See {numref}`fig-c` and {eq}`eq-a`.")]
    appendix = [nbformat.v4.new_code_cell("", metadata={"mystnb": {"figure": {"name": n}}})
                for n in ("fig-x", "fig-y")]
    numbers = target_numbers([(appendix[:1], None), (cells, 3), (appendix[1:], None)])
    assert numbers == {"eq-a": "3.1", "eq-b": "3.2", "fig-a": "3.1", "fig-w": "3.2",
                       "fig-c": "3.3", "fig-x": "1", "fig-y": "2"}
    out = plain_cells(cells, Path("p.md"), {}, str, numbers)
    assert [c.source for c in out] == [
        "$$\nx = 1\n\\tag{3.1}\n$$\n\ntext\n\n$$\ny\n\\tag{3.2}\n$$", "plot()",
        "**Figure 3.1.** As in (3.2).", "plot()", "**Figure 3.3.**",
        "See Figure 3.3 and (3.1)."]



def test_glue_calls_and_config_lines_leave_the_code_and_the_code_stays_valid():
    source = ("import numpy as np\nfrom myst_nb import glue\n\n%config X.y = 1\n"
              "value = 2.0\nglue('a', value, display=False)\n"
              "for k in range(2):\n    glue(f'k{k}', k, display=False)\n"
              "def f(x, g=None):\n    if g:\n        glue(g, x)\n    return x\n"
              "glue('b',\n     value)\nprint(value)")
    assert reader_code(source) == ("import numpy as np\n\nvalue = 2.0\n"
                                   "def f(x, g=None):\n    return x\nprint(value)")


def test_framework_runs_get_one_shared_text_and_a_label_each():
    cells = [nbformat.v4.new_code_cell(f"x = {k}", metadata={"tags": [f"framework-{k}"]})
             for k in ("numpy", "pytorch", "tensorflow")]
    cells.insert(0, nbformat.v4.new_markdown_cell("before"))
    website = nbformat.v4.new_code_cell("s.scrubber()", metadata={"tags": ["website-only"]})
    out = plain_cells([*cells, website], Path("p.md"), {}, str, {})
    kinds = [(c.cell_type, c.source.splitlines()[-1]) for c in out]
    assert kinds == [("markdown", "before"), ("markdown", "**NumPy version**"),
                     ("code", "x = numpy"), ("markdown", "**PyTorch version**"),
                     ("code", "x = pytorch"), ("markdown", "**TensorFlow version**"),
                     ("code", "x = tensorflow")]
    assert "tabs" in out[1].source and "tabs" not in out[3].source
