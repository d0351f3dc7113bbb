"""Write the .ipynb twin of every notebook page, for Colab, Binder and a download.

Colab opens only .ipynb files, so each MyST text notebook (chapters/*.md, appendix/*.md,
notation.md, solutions/*.md, exercises/*.md) gets an .ipynb beside it, without outputs, in
plain Jupyter Markdown (scripts/plain_notebook.py says what is rewritten). Its first cell
installs the book's `helpers` package when, and only when, it runs on Colab; the repository it
installs from is read from _config.yml (the one place it is named). The website's launch
buttons point at these files (sphinx-book-theme prefers an .ipynb twin of a page's source).

The numbers that the pages glue into their text are read from the execution cache of the last
`make book` and kept in scripts/glued_values.json, so that `--check` needs no build. A glue key
ending in `_timing` is a measured time: it differs from run to run, so the value kept is the
first one (the twins do not change at every build; the notebook prints its own when run).

A twin that holds someone's work (outputs, or an answer cell that differs from the stub) is
never overwritten: it is reported and left alone.

    python scripts/make_notebooks.py          # (re)write the .ipynb files
    python scripts/make_notebooks.py --check  # exit 1 if any is missing or out of date
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _ext.repository_links import is_placeholder
from helpers.grading.variants import VARIANT_TEMPLATE, book_variant, render
from scripts.generated import BUILD, ROOT, toc_files, write_or_check
from scripts.plain_notebook import plain_cells, target_numbers

GLUED_VALUES = ROOT / "scripts" / "glued_values.json"
EXECUTION_CACHE = BUILD / ".jupyter_cache"
TIMING = "_timing"  # the suffix of glue keys that are measured times
# A glued number is a property of the mathematics, not of the CPU (README.md, "Numbers that
# hold on any machine"): another machine's build may move it by round-off, relatively this
# much, and the digits the text shows must not change within it.
GLUE_RTOL = 1e-11
NOISY_RTOL = {  # numbers that a long computation moves further, and by how much
    # 10,000 steps of training with step size 1 amplify round-off: up to 2.5e-4 between
    # the arithmetic of `make numerics` and the usual one (twice that allowed)
    "ch7_final_loss": 5e-4,
    # chapter 7's training again (chapter 8), and its first 2,000 steps (chapter 9)
    "ch8_trained_loss": 5e-4,
    "ch8_midpoint_ratio": 3e-2,  # the midpoint of two trained networks: 0.8% between the two
    "ch9_top_eigenvalue": 5e-4,
    "ch9_residual_share": 5e-3,
}
JUPYTEXT_HEADER = re.compile(r"\A---\n(?:.*\n)*?jupytext:\n(?:.*\n)*?---\n")
COLAB_CELL = '''\
# On Colab: install the book's `helpers` package (this cell does nothing anywhere else).
import importlib.util
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("helpers") is None:
{install}'''
# The `notebooks` extra accepts the IPython and ipywidgets that Colab ships, so pip changes
# nothing in the running kernel. pip's own output is shown only when it fails.
COLAB_INSTALL = '''\
    package = "mvc4ml-helpers[notebooks] @ git+{url}@{branch}"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(
            f"Could not install the book's helpers package ({{package}}); pip said:\\n"
            f"{{pip.stderr[-1500:]}}\\nCheck that the repository is public and that this "
            "runtime reaches github.com (a new one: Runtime > Disconnect and delete "
            "runtime), then run this cell again.")'''
# While _config.yml names a placeholder repository there is nothing to install from.
COLAB_UNPUBLISHED = '''\
    raise RuntimeError(
        "This notebook comes from an unpublished copy of the book: its repository URL, "
        "{url}, is a placeholder, so there is nothing to install the "
        "book's helpers package from. Open the notebook from the published book instead, "
        "or upload the book's helpers/ folder next to this notebook and run this cell "
        "again.")'''


def notebook_sources() -> list[Path]:
    """The notebook pages of _toc.yml (they carry a jupytext header) and the student
    exercise notebooks (pages of the course build)."""
    sources = [ROOT / f"{name}.md" for name in toc_files()]
    sources += sorted((ROOT / "exercises").glob("*.md"))
    return [p for p in sources if JUPYTEXT_HEADER.match(p.read_text())]


def chapter_numbers() -> dict[str, int]:
    """Page name -> chapter number, for the pages of _toc.yml's numbered parts."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [c["file"] for part in toc.get("parts", []) if part.get("numbered")
                for c in part["chapters"]]
    return {name: number for number, name in enumerate(numbered, start=1)}


def figure_and_equation_numbers() -> dict[str, str]:
    """Label -> the number the website gives it, for every page of _toc.yml."""
    chapters = chapter_numbers()
    pages = [(ROOT / f"{name}.md", chapters.get(name)) for name in toc_files()]
    return target_numbers([(jupytext.read(source).cells, chapter) for source, chapter in pages
                           if JUPYTEXT_HEADER.match(source.read_text())])


def page_key(source: Path) -> str:
    return source.relative_to(ROOT).with_suffix("").as_posix()


def title_of(source: Path) -> str:
    """A page's title: its first level-one heading."""
    for line in source.read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise ValueError(f"{source} has no '# title' line")


def colab_cell() -> nbformat.NotebookNode:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    install = COLAB_UNPUBLISHED if is_placeholder(config["url"]) else COLAB_INSTALL
    cell = nbformat.v4.new_code_cell(COLAB_CELL.format(install=install.format(
        url=config["url"], branch=config.get("branch", "main"))))
    cell.metadata["tags"] = ["colab-setup"]
    return cell


def executed_in_cache(source: Path, cache_path: Path = EXECUTION_CACHE
                      ) -> nbformat.NotebookNode | None:
    """The page as the build last executed its current code (outputs included), or None."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    if not cache_path.is_dir():
        return None
    cache = get_cache(cache_path)
    try:
        record = cache.match_cache_notebook(read_myst_markdown_notebook(source.read_text()))
    except KeyError:
        return None
    return cache.get_cache_bundle(record.pk).nb


def glued_in_cache(source: Path) -> dict[str, str] | None:
    """The values a page glued when the build last executed its current code, or None."""
    from myst_nb.ext.glue import extract_glue_data_cell

    executed = executed_in_cache(source)
    if executed is None:
        return None
    return {key: data.data["text/plain"] for cell in executed.cells if cell.cell_type == "code"
            for key, data in extract_glue_data_cell(cell)}


def tolerance(key: str) -> float:
    """The relative round-off a glued number may carry from one CPU to another."""
    return NOISY_RTOL.get(key, GLUE_RTOL)


def same_number(key: str, ours: str, built: str) -> bool:
    """Whether two builds' glued values (their text/plain) are the same number, to the
    tolerance that round-off allows it (timings are measurements: always the same)."""
    if key.endswith(TIMING):
        return True
    try:
        a, b = float(ours), float(built)
    except ValueError:
        return ours == built
    return math.isclose(a, b, rel_tol=tolerance(key), abs_tol=1e-12)


def shown_digits_are_robust(key: str, value: str, spec: str) -> bool:
    """Whether the text shows ``value`` with ``spec`` the same wherever round-off may move it
    (a value on the edge of a rounding, like 0.24435 shown to 4 digits, is not)."""
    from myst_nb.core.variables import format_plain_text

    try:
        number = float(value)
    except ValueError:
        return True
    if value.lstrip("-").isdigit():
        return True  # a count: exact, or the second arithmetic shows that it is not
    return len({format_plain_text(repr(number * (1 + k * tolerance(key))), spec)
                for k in (-1, 0, 1)}) == 1


def glued_values(sources: list[Path], refresh: bool) -> dict[str, dict[str, str]]:
    """page -> glue key -> the value's text/plain, from the file (and the cache if refresh)."""
    known = json.loads(GLUED_VALUES.read_text()) if GLUED_VALUES.exists() else {}
    if refresh:
        for source in sources:
            if "{glue:" in source.read_text() and (found := glued_in_cache(source)) is not None:
                kept = known.get(page_key(source), {})
                # a value that only round-off moved keeps its committed text (no churn)
                known[page_key(source)] = {
                    key: kept[key] if key in kept and same_number(key, kept[key], value)
                    else value for key, value in found.items()}
    return {page: dict(sorted(values.items())) for page, values in sorted(known.items())}


def as_ipynb(source: Path, glued: dict[str, str], numbers: dict[str, str]) -> str:
    page = jupytext.read(source)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [colab_cell(), *plain_cells(page.cells, source.relative_to(ROOT), glued,
                                                 title_of, numbers)]
    chapter = page.metadata.get("grading", {}).get("chapter")
    if chapter:
        fill_in_variant(notebook.cells, book_variant(chapter)["params"])
    # What Jupyter itself writes on save, so that opening and saving a twin changes nothing:
    # the kernelspec (from the page) and the language_info that the book's kernel reports
    # (its Python version included: the book pins Python 3.11, and CI runs the same build).
    from ipykernel.ipkernel import IPythonKernel

    notebook.metadata = {key: value for key, value in page.metadata.items()
                         if key != "jupytext"}
    notebook.metadata["language_info"] = IPythonKernel.language_info
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number}"  # stable ids: random ones would change on every run
    return nbformat.writes(notebook) + "\n"


def fill_in_variant(cells: list[nbformat.NotebookNode], params: dict) -> None:
    """Exercise statements with the book's numbers; each keeps its template in its
    metadata, from which a course notebook is rendered with a student's own numbers."""
    for cell in cells:
        if cell.cell_type == "markdown" and "{{" in cell.source:
            cell.metadata[VARIANT_TEMPLATE] = cell.source
            cell.source = render(cell.source, params)


def answer_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if "answer" in cell.metadata.get("tags", [])]


def work_in(twin: Path, expected: str) -> str | None:
    """What of someone's work a twin on disk holds ("outputs", "answers"), or None.

    Jupyter saves what a student did into the file: outputs, execution counts, answers in the
    cells tagged ``answer``, kernel metadata. Those are theirs, not ours to replace.
    """
    if not twin.exists():
        return None
    notebook = nbformat.read(twin, as_version=4)
    ours = nbformat.reads(expected, as_version=4)
    if any(cell.source != our.source
           for cell, our in zip(answer_cells(notebook), answer_cells(ours), strict=False)):
        return "answers"
    if any(cell.get("outputs") or cell.get("execution_count") for cell in notebook.cells
           if cell.cell_type == "code"):
        return "outputs"
    return None


def without_work(twin: Path, expected: str) -> str:
    """The twin on disk with its outputs, answers and Jupyter's metadata set to ours."""
    notebook = nbformat.read(twin, as_version=4)
    ours = nbformat.reads(expected, as_version=4)
    notebook.metadata = ours.metadata
    for cell, our in zip(notebook.cells, ours.cells, strict=False):
        cell.metadata = our.metadata
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    for cell, our in zip(answer_cells(notebook), answer_cells(ours), strict=False):
        cell.source = our.source
    return nbformat.writes(notebook) + "\n"


def main() -> int:
    check = "--check" in sys.argv
    sources = notebook_sources()
    glued = glued_values(sources, refresh=not check)
    numbers = figure_and_equation_numbers()
    outputs = [(GLUED_VALUES, lambda: json.dumps(glued, indent=1) + "\n")]
    blocked = []
    for source in sources:
        twin = source.with_suffix(".ipynb")
        expected = as_ipynb(source, glued.get(page_key(source), {}), numbers)
        if work := work_in(twin, expected):
            name = twin.relative_to(ROOT)
            if without_work(twin, expected) == expected:
                print(f"note: {name} holds {work} (someone's work); it is up to date apart "
                      "from that and is left alone")
            else:
                blocked.append(f"{name} is out of date and holds {work}: move it elsewhere "
                               f"(or `git checkout {name}` to drop them), then `make notebooks`")
            continue
        outputs.append((twin, lambda expected=expected: expected))
    status = write_or_check(__doc__, outputs)
    for message in blocked:
        print(f"not overwritten: {message}")
    return status or int(bool(blocked))


if __name__ == "__main__":
    sys.exit(main())
