"""Sphinx extension: small fixes to what the theme stack puts on every page.

* pydata-sphinx-theme loads ``fontawesome.js`` (1.5 MB, "so that users can add custom
  icons") on every page, although its stylesheet already draws every icon the book uses
  from Font Awesome's web fonts. Dropping the script cuts each page's weight by more than
  half; it is removed from the written pages after the build (the theme hard-codes it in a
  template macro, with no setting to turn it off).
* sphinxcontrib-bibtex's reference list (docutils' HTML) is a ``role="list"`` whose entries
  carry ``role="doc-biblioentry"``; a list must hold list items, and screen readers announce
  it as an empty list (axe-core: aria-required-children, critical). The entries become
  ``role="listitem"`` in the written pages (docutils has no setting for the role).
* sphinx-thebe registers its configuration script once per ``env-before-read-docs``, which
  Jupyter Book's build can emit more than once; two copies declare ``const THEBE_JS_URL``
  twice and the browser reports a JavaScript error on every page. Duplicate scripts are
  dropped here (the theme offers no switch for it).
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx

FONTAWESOME_SCRIPT = re.compile(r'\s*<script defer src="[^"]*fontawesome\.js[^"]*"></script>')
BIBLIOGRAPHY_ENTRY = 'role="doc-biblioentry"'


def drop_duplicate_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if "script_files" not in context:
        return
    seen, unique = set(), []
    for script in context["script_files"]:
        # the copies differ in how "no file" is written (None or ""): compare the file name,
        # normalised, and the attributes (an inline script's body is one)
        key = (getattr(script, "filename", script) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # in place: later handlers (sphinx.ext.mathjax among them) append to this very list
    context["script_files"][:] = unique


def clean_written_pages(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        cleaned = FONTAWESOME_SCRIPT.sub("", text).replace(BIBLIOGRAPHY_ENTRY, 'role="listitem"')
        if cleaned != text:
            page.write_text(cleaned, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", clean_written_pages)
    # early: Sphinx stops calling html-page-context handlers at the first that returns a value
    app.connect("html-page-context", drop_duplicate_scripts, priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
