"""Sphinx extension: serve MathJax 3 from the built site itself, not from a CDN.

Readers ask to read offline, and the browser tests run without internet, so the formulas
must typeset from files the build ships. The files come from the PyPI package
``django-static-mathjax`` (pinned in requirements.txt), which carries MathJax 3's ``es5``
build; only the parts a page can load are copied: the ``tex-chtml`` component, its web
fonts, the TeX extensions it can autoload, and the menu and accessibility components.
(No Sphinx or MyST package ships MathJax, and a download at build time would need the
network.)

A page without math loads no MathJax. Sphinx decides per page, but counts the math of every
page a page's toctree includes, so the first page (whose toctree is the whole book) loaded
MathJax for nothing; this extension drops it there.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

COMPONENT = "tex-chtml.js"
PARTS = [COMPONENT, "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y",
         "adaptors"]
TARGET = "mathjax"  # under _static/


def mathjax_es5() -> Path:
    """The ``es5`` folder of the installed MathJax 3 distribution."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError("MathJax is not installed: `pip install -r requirements.txt` "
                             "(package django-static-mathjax)")
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (es5 / COMPONENT).is_file():
        raise ExtensionError(f"{es5 / COMPONENT} is missing: reinstall django-static-mathjax")
    return es5


def use_local_mathjax(app: Sphinx, config) -> None:
    mathjax_es5()  # fail early, with the message above, if it is not installed
    # A relative mathjax_path is relative to _static/ (Sphinx's documented behaviour).
    config.mathjax_path = f"{TARGET}/{COMPONENT}"


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_es5(), Path(app.outdir) / "_static" / TARGET
    for part in PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def drop_mathjax_without_math(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if app.builder.format != "html" or "script_files" not in context:
        return
    if app.env.get_domain("math").data["has_equations"].get(pagename, False):
        return

    def is_mathjax(script) -> bool:
        name = str(getattr(script, "filename", script) or "")  # "_static/mathjax/..."
        body = getattr(script, "attributes", {}).get("body", "")
        return name.endswith(app.config.mathjax_path) or body.startswith("window.MathJax")

    # in place: the page's template reads this very list
    context["script_files"][:] = [s for s in context["script_files"] if not is_mathjax(s)]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    # after sphinx.ext.mathjax has added its scripts (default priority 500)
    app.connect("html-page-context", drop_mathjax_without_math, priority=800)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
