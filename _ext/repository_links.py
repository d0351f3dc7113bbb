"""Sphinx extension: no repository or launch button while the repository URL is a placeholder.

_config.yml names the book's repository once (`repository.url`); the theme derives the
repository button and the Binder and Colab launch buttons from it. Until the book is
published that URL is a placeholder (github.com/your-org/...), and every one of those
buttons would lead a reader to a page that does not exist. So while it is, the build leaves
them out and says so once in its log; setting the real URL brings them back (README.md,
"Publishing").

The launch buttons are dropped from each page after sphinx-book-theme has made them, not
switched off in its settings: the theme adds a page's .ipynb download only where launch
buttons are configured, and that download is worth keeping.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
PLACEHOLDER_OWNER = "github.com/your-org/"
LAUNCH_GROUP = "launch-buttons"  # sphinx-book-theme's label for the launch dropdown


def is_placeholder(url: str) -> bool:
    return PLACEHOLDER_OWNER in url


def drop_buttons_without_repository(app: Sphinx, config) -> None:
    options = config.html_theme_options
    url = options.get("repository_url", "")
    if not is_placeholder(url):
        return
    options["use_repository_button"] = False
    options["use_issues_button"] = False
    options["use_edit_page_button"] = False
    LOGGER.info(f"repository_links: {url} is a placeholder, so the repository and launch "
                "buttons are left out; set repository.url in _config.yml to publish them")


def drop_launch_buttons(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if is_placeholder(app.config.html_theme_options.get("repository_url", "")):
        context["header_buttons"] = [group for group in context.get("header_buttons", [])
                                     if group.get("label") != LAUNCH_GROUP]


def setup(app: Sphinx) -> dict:
    # after Jupyter Book has written _config.yml's settings into html_theme_options
    app.connect("config-inited", drop_buttons_without_repository, priority=900)
    # after sphinx-book-theme has made the launch buttons (priority 501)
    app.connect("html-page-context", drop_launch_buttons, priority=550)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
