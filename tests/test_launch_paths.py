"""The launch paths: .ipynb twins for Colab, the Binder environment, the local Makefile."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from scripts.make_notebooks import (
    as_ipynb,
    colab_cell,
    notebook_sources,
    without_work,
    work_in,
)
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


BINDER = ROOT / "binder"
BUILD_AND_TEST_TOOLS = {"jupyter-book", "myst-nb", "sphinx", "pytest", "hypothesis", "ruff",
                        "playwright", "beautifulsoup4", "pypdf", "jupyterlab", "nbclient"}


def test_binder_is_lean_self_contained_and_pinned_as_the_book_is():
    binder = pins(BINDER / "requirements.txt")
    book = pins(ROOT / "requirements.txt")
    assert {"numpy", "matplotlib", "torch", "tensorflow", "ipykernel", "jupytext"} <= set(binder)
    assert {name: book[name] for name in binder} == binder  # the book's versions
    assert not BUILD_AND_TEST_TOOLS & set(binder)  # nothing to build or test the book with
    lines = [line.split("#", 1)[0].strip()
             for line in (BINDER / "requirements.txt").read_text().splitlines()]
    # a local reference makes repo2docker copy the repository first: a new install per commit
    assert not [line for line in lines if line.startswith(("-r", "-c", "-e", ".", "--requ",
                                                           "--cons", "--edit"))
                or "file://" in line]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines  # CPU-only torch
    assert "pip install --no-deps -e ." in (BINDER / "postBuild").read_text()


@pytest.mark.slow
def test_binder_requirements_agree_with_the_base_image(tmp_path):
    """pip resolves the base image's Jupyter (binder/base-image.txt) together with the book's
    Binder requirements from the packages' own metadata (PyPI), changing none of the base
    image's versions. PyTorch is left out: its index is not reachable from every machine,
    and none of the base image's packages depends on it."""
    wanted = [line for line in (BINDER / "requirements.txt").read_text().splitlines()
              if not line.startswith(("--extra-index-url", "torch=="))]
    (tmp_path / "binder.txt").write_text("\n".join(wanted) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", "-", "-r", str(BINDER / "base-image.txt"), "-r", str(tmp_path / "binder.txt")],
        capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
                for item in json.loads(result.stdout)["install"]}
    base = pins(BINDER / "base-image.txt")
    assert {name: resolved[name] for name in base} == base


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
        assert first.source == colab_cell().source, twin


def run_colab_cell(source: str, on_colab: bool, helpers_installed: bool = False) -> None:
    """Execute a Colab cell here, as on Colab (or not), with `helpers` importable (or not)."""
    import importlib.util
    from unittest import mock

    real = importlib.util.find_spec
    hide = mock.patch("importlib.util.find_spec", lambda name, *args: None if
                      name == "helpers" and not helpers_installed else real(name, *args))
    colab = mock.patch.dict(sys.modules, {"google.colab": type(sys)("google.colab")}
                            if on_colab else {})
    with hide, colab:
        exec(compile(source, "colab-cell", "exec"), {})


@pytest.fixture
def published(monkeypatch):
    """colab_cell() as make_notebooks writes it once _config.yml names a real repository."""
    import scripts.make_notebooks as make_notebooks

    def with_url(url: str) -> str:
        monkeypatch.setattr(make_notebooks, "is_placeholder", lambda _: False)
        monkeypatch.setattr(yaml, "safe_load", lambda _: {"repository": {"url": url}})
        return make_notebooks.colab_cell().source
    return with_url


def test_the_colab_cell_does_nothing_outside_colab_or_where_helpers_is_installed(published):
    cells = [colab_cell().source, published("https://github.com/example/book")]
    for source in cells:
        run_colab_cell(source, on_colab=False)
        run_colab_cell(source, on_colab=True, helpers_installed=True)


def test_the_colab_cell_of_an_unpublished_book_says_so_on_colab():
    with pytest.raises(RuntimeError, match="is a placeholder, so there is nothing to install"):
        run_colab_cell(colab_cell().source, on_colab=True)


def test_the_colab_cell_fails_loudly_when_pip_cannot_install(published, tmp_path):
    """The cell used to report success after a failed %pip; now pip's error is raised."""
    source = published(f"file://{tmp_path}/no-such-repository")
    assert "mvc4ml-helpers[notebooks] @ git+file://" in source
    with pytest.raises(RuntimeError, match=r"(?s)Could not install the book's helpers package"
                                           r".*pip said:.*no-such-repository"):
        run_colab_cell(source, on_colab=True)


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
    as it is; and the kernelspec and language_info are the ones Jupyter writes for the installed
    kernel (JupyterLab marks a notebook lacking either as modified as soon as it opens)."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    display_name = KernelSpecManager().get_kernel_spec("python3").display_name
    for source in notebook_sources():
        text = source.read_text()
        page = jupytext.reads(text, fmt="md:myst")
        assert jupytext.writes(page, fmt="md:myst") == text, source
        assert page.metadata["kernelspec"]["display_name"] == display_name, source
        assert page.metadata["language_info"] == IPythonKernel.language_info, source
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


def test_glued_numbers_show_only_digits_that_round_off_cannot_change():
    """Each number the text quotes (a glue role and its format) reads the same for any value
    within the round-off another CPU may add (README.md, "Numbers that hold on any machine"),
    so the committed twins and every build agree to the digits shown."""
    from scripts.make_notebooks import GLUED_VALUES, TIMING, page_key, shown_digits_are_robust
    from scripts.plain_notebook import ROLE

    committed = json.loads(GLUED_VALUES.read_text())
    shown = 0
    for source in notebook_sources():
        for role in ROLE.finditer(source.read_text()):
            key, _, spec = role["content"].partition(":")
            if role["name"] != "glue:text" or key.endswith(TIMING):
                continue
            value = committed[page_key(source)][key]
            assert shown_digits_are_robust(key, value, spec), \
                f"{source.name}: {key} = {value} shown as {{:{spec}}} sits on a rounding edge"
            shown += 1
    assert shown >= 30


def test_round_off_counts_as_the_same_number_and_a_real_change_does_not():
    from scripts.make_notebooks import same_number, shown_digits_are_robust

    assert same_number("k", "0.2222222222222222", "0.22222222222222224")
    assert not same_number("k", "0.2222", "0.2223")
    assert not same_number("k", "2490", "2516")  # a count is exact
    assert same_number("k", "'passed'", "'passed'") and not same_number("k", "'a'", "'b'")
    assert same_number("ch4_fb_ratio_timing", "0.98", "2.3")  # a measured time
    assert same_number("ch7_final_loss", "0.24430", "0.24436")  # declared noisy
    assert shown_digits_are_robust("k", "0.24431", ".3f")
    assert not shown_digits_are_robust("k", "0.2444999999999", ".3f")
    assert not shown_digits_are_robust("ch7_final_loss", "0.24449", ".3f")


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=60)


def test_make_install_takes_pytorchs_cpu_index_when_asked():
    """What `make install` would run (make -n -B: printed, not run): PyPI by default, and with
    TORCH=cpu the pinned torch from PyTorch's CPU index before the rest of requirements.txt."""
    pin = pins(ROOT / "requirements.txt")["torch"]
    default = make("-n", "-B", "install").stdout
    cpu = make("-n", "-B", "install", "TORCH=cpu").stdout
    assert "download.pytorch.org" not in default and "-r requirements.txt" in default
    first = cpu.index(f"--index-url https://download.pytorch.org/whl/cpu torch=={pin}")
    assert first < cpu.index("-r requirements.txt")
    wrong = make("-B", "install", "TORCH=gpu")  # refused before anything is installed
    assert wrong.returncode != 0 and "TORCH=gpu is not a route" in wrong.stdout


def test_make_lab_runs_as_root():
    """JupyterLab refuses to start as root without --allow-root; ordinary users need none."""
    lab = make("-n", "lab").stdout
    assert "jupyter lab" in lab
    assert ("--allow-root" in lab) == (os.geteuid() == 0)
