"""Write the .ipynb twin of every notebook page, for Colab and Binder launch buttons.

Colab opens only .ipynb files, so each MyST text notebook (chapters/*.md, appendix/*.md,
notation.md, solutions/*.md, exercises/*.md) gets an .ipynb beside it, without outputs.
Students download and submit the exercises/*.ipynb files. Its first cell installs the book's
`helpers` package when, and only when, it runs on Colab; the repository it installs from is
read from _config.yml (the one place it is named). The website's launch buttons point at
these files (sphinx-book-theme prefers an .ipynb twin of a page's source).

    python scripts/make_notebooks.py          # (re)write the .ipynb files
    python scripts/make_notebooks.py --check  # exit 1 if any is missing or out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.generated import ROOT, toc_files, write_or_check

COLAB_CELL = '''\
# On Colab: install the book's `helpers` package (this cell does nothing anywhere else).
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "git+{url}@{branch}"'''


def notebook_sources() -> list[Path]:
    """The notebook pages of _toc.yml (they carry a jupytext header) and the student
    exercise notebooks (pages of the course build)."""
    sources = [ROOT / f"{name}.md" for name in toc_files()]
    sources += sorted((ROOT / "exercises").glob("*.md"))
    return [p for p in sources if p.read_text().lstrip().startswith("---\njupytext:")]


def colab_cell() -> nbformat.NotebookNode:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    cell = nbformat.v4.new_code_cell(COLAB_CELL.format(url=config["url"],
                                                       branch=config.get("branch", "main")))
    cell.metadata["tags"] = ["colab-setup"]
    return cell


def as_ipynb(source: Path) -> str:
    notebook = jupytext.read(source)
    notebook.cells.insert(0, colab_cell())
    notebook.metadata.pop("jupytext", None)  # a standalone notebook, not a pairing
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number}"  # stable ids: random ones would change on every run
    return jupytext.writes(notebook, fmt="ipynb")


def main() -> int:
    return write_or_check(__doc__, ((source.with_suffix(".ipynb"),
                                     lambda source=source: as_ipynb(source))
                                    for source in notebook_sources()))

if __name__ == "__main__":
    sys.exit(main())
