"""Sphinx extension: serve MathJax 3 from the built site itself, not from a CDN.

Readers ask to read offline, and the browser tests run without internet, so the formulas
must typeset from files the build ships. The files come from the PyPI package
``django-static-mathjax`` (pinned in requirements.txt), which carries MathJax 3's ``es5``
build; only the parts a page can load are copied: the ``tex-chtml`` component, its web
fonts, the TeX extensions it can autoload, and the menu and accessibility components.
(No Sphinx or MyST package ships MathJax, and a download at build time would need the
network.)
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


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
