"""Turn a page of the book (a MyST text notebook) into a plain Jupyter notebook.

Jupyter, Colab and Binder render Markdown cells as CommonMark with math; they know nothing of
MyST's directives and roles, so a twin written from the source as it is shows `{prf:...}`
fences, `:label:` lines and `{glue:text}` roles. This module rewrites what the book uses:

* ``{prf:definition}``, ``{prf:theorem}``, ... -> a bold "Definition (title)." lead-in and the
  body, math untouched;
* ``{exercise}`` -> an "Exercise 4.2: title" heading (from its ``ch4-q2`` label, as the
  website numbers it: ``_ext/exercise_numbers.py``);
  ``{solution-start}`` -> a "Solution" heading, ``{solution-end}`` -> nothing;
* ``{glue:text}`key:format``` -> the number the build computed, formatted as on the website;
* ``{doc}`../notation``` -> a Markdown link to that page's notebook, titled by its heading;
  ``{ref}`... <ch4-exercises>``` -> a link to the chapter's exercise notebook;
* ``{cite:p}`` / ``{cite:t}`` -> "[Author et al., 2020]" / "Author et al. [2020]", linked to
  the work (from references.bib), as the website writes them;
* a figure's caption (MyST-NB's ``mystnb.figure`` cell metadata) -> a "**Figure 2.3.**"
  line under its cell; ``{numref}`fig-...``` -> "Figure 2.3"; a labelled equation
  (``$$ (eq-...)``) -> ``\\tag{5.1}``, and ``{eq}`eq-...``` -> "(5.1)": the numbers the
  website gives them (see :func:`target_numbers`);
* a target line ``(label)=`` -> nothing (the notebooks link to pages, not to targets);
* cells tagged ``website-only`` (the frame sliders that stand in for a live explorer on the
  static site, and the prose about them) are left out;
* the website's ``glue(...)`` calls, their import and ``%config`` lines are dropped from code
  cells (the website drops them too: ``_ext/reader_code.py``);
* each run of framework cells (tagged ``framework-numpy`` / ``-pytorch`` / ``-tensorflow``,
  synced tabs on the website) gets one shared sentence and a label above each cell.

Anything else that looks like MyST (another directive or role) is an error, so that new
syntax in a chapter is converted on purpose rather than leaked to students.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

WEBSITE_ONLY = "website-only"
FRAMEWORK_TAG = "framework-"
FRAMEWORKS = {"numpy": "NumPy", "pytorch": "PyTorch", "tensorflow": "TensorFlow"}
FRAMEWORK_INTRO = ("The same computation follows in NumPy, PyTorch and TensorFlow, one cell "
                   "each (on the website they are tabs). Each cell stands alone: run the one "
                   "for the framework you use, or all of them.")
PROOF_KINDS = {"definition": "Definition", "theorem": "Theorem", "lemma": "Lemma",
               "corollary": "Corollary", "algorithm": "Algorithm", "proof": "Proof",
               "example": "Example", "remark": "Remark"}

DIRECTIVE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")
ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<content>[^`]*)`")
EQUATION_LABEL = re.compile(r"^\$\$[ \t]*\((?P<label>[\w-]+)\)[ \t]*$", re.MULTILINE)
QUESTION_LABEL = re.compile(r"^ch(?P<chapter>\d+)-q(?P<number>\d+)$")
TARGET = re.compile(r"^\([\w-]+\)=[ \t]*\n?", re.MULTILINE)  # "(label)=": a link target only
EXERCISES_LABEL = re.compile(r"^ch(?P<chapter>\d+)-exercises$")
DOC_TARGET = re.compile(r"^(?:(?P<text>.*?)\s*<(?P<path>[^>]+)>|(?P<bare>[^<>]+))$")
# What a leftover of MyST syntax looks like in a converted Markdown cell (see tests).
MYST_LEFTOVER = re.compile(r"\{[\w:-]+\}`|^(`{3,}|:{3,})\{|^:[\w-]+:|^\([\w-]+\)=\s*$|^\+\+\+",
                           re.MULTILINE)


class MystSyntaxError(ValueError):
    """A page uses MyST syntax that has no plain-notebook rendering here yet."""


def figure_of(cell: nbformat.NotebookNode) -> dict | None:
    """A code cell's figure options (caption, name) when its output is a numbered figure."""
    figure = cell.metadata.get("mystnb", {}).get("figure")
    return figure if cell.cell_type == "code" and figure else None


def target_numbers(pages: Sequence[tuple[list[nbformat.NotebookNode], int | None]]
                   ) -> dict[str, str]:
    """Label -> number of every named figure and labelled equation of the book's pages.

    ``pages`` holds each page's cells, in book order, and its chapter number (None for a
    page outside the numbered chapters). Sphinx numbers figures and equations per chapter in
    the order they appear ("2.3", with numfig_secnum_depth 1), and those of the unnumbered
    pages on from 1 across all of them. A book test checks these against the website.
    """
    numbers: dict[str, str] = {}
    unnumbered = {"figure": 0, "equation": 0}
    for cells, chapter in pages:
        counts = {"figure": 0, "equation": 0} if chapter is not None else unnumbered
        prefix = f"{chapter}." if chapter is not None else ""
        for cell in cells:
            if (figure := figure_of(cell)) is not None:
                counts["figure"] += 1
                if figure.get("name"):
                    numbers[figure["name"]] = f"{prefix}{counts['figure']}"
            elif cell.cell_type == "markdown":
                for match in EQUATION_LABEL.finditer(cell.source):
                    counts["equation"] += 1
                    numbers[match["label"]] = f"{prefix}{counts['equation']}"
    return numbers


def convert_markdown(text: str, page: Path, glued: Mapping[str, str],
                     title_of: Callable[[Path], str], numbers: Mapping[str, str]) -> str:
    """The Markdown of one cell, with directives and roles rewritten (see the module doc)."""
    text = TARGET.sub("", _replace_directives(text, page))
    text = EQUATION_LABEL.sub(lambda m: f"\\tag{{{_number(m['label'], page, numbers)}}}\n$$",
                              text)
    return _replace_roles(text, page, glued, title_of, numbers)


def _number(label: str, page: Path, numbers: Mapping[str, str]) -> str:
    if label not in numbers:
        raise MystSyntaxError(f"{page}: {label!r} is not a named figure or a labelled equation "
                              "of a numbered chapter")
    return numbers[label]


def _replace_directives(text: str, page: Path) -> str:
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        match = DIRECTIVE_OPEN.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        fence, name, argument = match["fence"], match["name"], match["arg"].strip()
        i += 1
        options = {}
        while i < len(lines) and (option := OPTION.match(lines[i])):
            options[option["key"]] = option["value"].strip()
            i += 1
        body = []
        closing = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        while i < len(lines) and not closing.match(lines[i]):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise MystSyntaxError(f"{page}: the {{{name}}} block has no closing {fence}")
        i += 1
        out.extend(_render_directive(name, argument, options, "\n".join(body).strip("\n"),
                                     page).split("\n"))
    return "\n".join(out)


def _render_directive(name: str, argument: str, options: dict, body: str, page: Path) -> str:
    if name.startswith("prf:") and name[4:] in PROOF_KINDS:
        kind = PROOF_KINDS[name[4:]]
        lead = f"**{kind} ({argument}).**" if argument else f"**{kind}.**"
        return f"{lead}\n\n{body}" if body else lead
    if name == "exercise":
        label = QUESTION_LABEL.match(options.get("label", ""))
        number = f" {label['chapter']}.{label['number']}" if label else ""
        heading = f"### Exercise{number}: {argument}" if argument else f"### Exercise{number}"
        return f"{heading}\n\n{body}" if body else heading
    if name == "solution-start":
        label = QUESTION_LABEL.match(argument)
        return (f"#### Solution to exercise {label['chapter']}.{label['number']}" if label
                else "#### Solution")
    if name == "solution-end":
        return ""
    raise MystSyntaxError(f"{page}: the directive {{{name}}} has no plain-notebook rendering; "
                          "add one to scripts/plain_notebook.py")


def _replace_roles(text: str, page: Path, glued: Mapping[str, str],
                   title_of: Callable[[Path], str], numbers: Mapping[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name, content = match["name"], match["content"]
        if name == "glue:text":
            key, _, spec = content.partition(":")
            if key not in glued:
                raise MystSyntaxError(
                    f"{page}: no computed value for {{glue:text}}`{content}`; run `make book` "
                    "first (it executes the pages), then `make notebooks`")
            return _format_glued(glued[key], spec)
        if name == "doc":
            target = DOC_TARGET.match(content.strip())
            path = target["path"] or target["bare"]
            source = (page.parent / path).with_suffix(".md")
            text = target["text"] or title_of(source)
            return f"[{text}]({Path(path).with_suffix('.ipynb').as_posix()})"
        if name == "ref":
            return _exercises_link(content, page)
        if name in ("cite:p", "cite:t"):
            return _citation([key.strip() for key in content.split(",")], name[-1], page)
        if name == "numref":
            return f"Figure {_number(content.strip(), page, numbers)}"
        if name == "eq":
            return f"({_number(content.strip(), page, numbers)})"
        raise MystSyntaxError(f"{page}: the role {{{name}}} has no plain-notebook rendering; "
                              "add one to scripts/plain_notebook.py")

    return ROLE.sub(replace, text)


def _exercises_link(content: str, page: Path) -> str:
    # The chapters link to their exercises page by its label, which the self-study build
    # resolves to solutions/ and the course build to exercises/; a student's notebook links
    # to the exercises notebook, the one they work in.
    target = DOC_TARGET.match(content.strip())
    label = EXERCISES_LABEL.match(target["path"] or target["bare"])
    if not label:
        raise MystSyntaxError(f"{page}: {{ref}}`{content}`: only the chapters' exercises labels "
                              "(chN-exercises) have a plain-notebook rendering")
    chapter = int(label["chapter"])
    matches = sorted((ROOT / "exercises").glob(f"{chapter:02d}_*.md"))
    if not matches:
        raise MystSyntaxError(f"{page}: no exercises page for chapter {chapter}")
    link = Path("..") / "exercises" / matches[0].with_suffix(".ipynb").name
    return f"[{target['text'] or f'the exercises of chapter {chapter}'}]({link.as_posix()})"


def _citation(keys: Sequence[str], style: str, page: Path) -> str:
    """``{cite:p}`` -> "[Author et al., 2020]", ``{cite:t}`` -> "Author et al. [2020]", as the
    website writes them (``bibtex_reference_style: author_year``), each linked to its source."""
    entries = _bibliography()
    parts = []
    for key in keys:
        if key not in entries:
            raise MystSyntaxError(f"{page}: no entry {key!r} in references.bib")
        authors, year, url = entries[key]
        if style == "p":
            parts.append(f"[{authors}, {year}]({url})" if url else f"{authors}, {year}")
        else:
            parts.append(f"{authors} [[{year}]({url})]" if url else f"{authors} [{year}]")
    return f"[{'; '.join(parts)}]" if style == "p" else " and ".join(parts)


@functools.cache  # one parse of references.bib per run, not one per citation
def _bibliography() -> dict[str, tuple[str, str, str]]:
    from pybtex.database import parse_file

    entries = {}
    for key, entry in parse_file(ROOT / "references.bib").entries.items():
        people = entry.persons["author"]
        surname = " ".join(people[0].last_names).strip("{}")
        authors = surname if len(people) == 1 else (
            f"{surname} and {' '.join(people[1].last_names)}" if len(people) == 2
            else f"{surname} et al.")
        entries[key] = (authors, entry.fields["year"], entry.fields.get("url", ""))
    return entries


def _format_glued(plain_text: str, spec: str) -> str:
    # MyST-NB's own formatting of a glued text/plain value, so the notebook prints the same
    # digits as the website.
    from myst_nb.core.variables import format_plain_text

    return format_plain_text(plain_text, spec)


def reader_code(source: str) -> str:
    """The code of a cell as readers see it: without the build's plumbing.

    That is the website's ``glue(...)`` statements and their import (a compound statement,
    ``for`` or ``if``, left with nothing but glue calls goes too) and the ``%config`` lines
    that choose the figure format.
    """
    lines = [line for line in source.split("\n") if not line.startswith("%config ")]
    source = "\n".join(lines)
    if "glue" not in source:
        return source.strip("\n")
    # IPython magics are not Python: hide them from the parser, keeping line numbers.
    parsable = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                         for line in lines)
    drop: set[int] = set()

    def only_glue(statements: list[ast.stmt]) -> bool:
        return all(is_glue(statement) for statement in statements)

    def is_glue(statement: ast.stmt) -> bool:
        if isinstance(statement, ast.ImportFrom) and statement.module == "myst_nb":
            return [alias.name for alias in statement.names] == ["glue"]
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            return getattr(statement.value.func, "id", None) == "glue"
        if isinstance(statement, (ast.For, ast.If)) and not statement.orelse:
            return only_glue(statement.body)
        return False

    for node in ast.walk(ast.parse(parsable)):
        body = getattr(node, "body", [])  # a lambda's body is one expression, not a list
        for statement in body if isinstance(body, list) else []:
            if is_glue(statement):
                drop.update(range(statement.lineno - 1, statement.end_lineno))
    kept = [line for number, line in enumerate(lines) if number not in drop]
    return re.sub(r"\n{3,}$", "\n", "\n".join(kept)).strip("\n")


def framework_of(cell: nbformat.NotebookNode) -> str | None:
    tags = [t for t in cell.metadata.get("tags", []) if t.startswith(FRAMEWORK_TAG)]
    return tags[0][len(FRAMEWORK_TAG):] if tags and cell.cell_type == "code" else None


def plain_cells(cells: list[nbformat.NotebookNode], page: Path, glued: Mapping[str, str],
                title_of: Callable[[Path], str], numbers: Mapping[str, str]
                ) -> list[nbformat.NotebookNode]:
    """The cells of a page as a plain notebook shows them (see the module doc)."""
    out: list[nbformat.NotebookNode] = []
    previous_framework = None
    for cell in cells:
        if WEBSITE_ONLY in cell.metadata.get("tags", []):
            continue
        framework = framework_of(cell)
        if cell.cell_type == "markdown":
            source = convert_markdown(cell.source, page, glued, title_of, numbers).strip("\n")
            if source:
                out.append(nbformat.v4.new_markdown_cell(source, metadata=cell.metadata))
        elif cell.cell_type == "code":
            if framework:
                label = f"**{FRAMEWORKS[framework]} version**"
                if previous_framework is None:
                    label = f"{FRAMEWORK_INTRO}\n\n{label}"
                if framework != previous_framework:
                    out.append(nbformat.v4.new_markdown_cell(label))
            source = reader_code(cell.source)
            if source.strip():
                out.append(nbformat.v4.new_code_cell(source, metadata=cell.metadata))
            if (figure := figure_of(cell)) is not None:
                caption = convert_markdown(figure.get("caption", ""), page, glued, title_of,
                                           numbers)
                number = numbers.get(figure.get("name", ""))
                lead = f"**Figure {number}.**" if number else "**Figure.**"
                out.append(nbformat.v4.new_markdown_cell(f"{lead} {caption}".strip()))
        else:
            out.append(cell)
        previous_framework = framework
    return out


def leftover_myst(notebook: nbformat.NotebookNode) -> list[str]:
    """Pieces of MyST syntax left in a notebook's Markdown cells (empty when converted)."""
    return [match.group(0) for cell in notebook.cells if cell.cell_type == "markdown"
            for match in MYST_LEFTOVER.finditer(cell.source)]
