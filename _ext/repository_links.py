"""Sphinx extension: no repository or launch button while the repository URL is a placeholder.

_config.yml names the book's repository once (`repository.url`); the theme derives the
repository button and the Binder and Colab launch buttons from it. Until the book is
published that URL is a placeholder (github.com/your-org/...), and every one of those
buttons would lead a reader to a page that does not exist. So while it is, the build leaves
them out and says so once in its log; setting the real URL brings them back (README.md,
"Publishing").
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
PLACEHOLDER_OWNER = "github.com/your-org/"
LAUNCH_URLS = ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url")


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
    launch = dict(options.get("launch_buttons") or {})
    for key in LAUNCH_URLS:
        launch[key] = ""
    options["launch_buttons"] = launch
    LOGGER.info(f"repository_links: {url} is a placeholder, so the repository and launch "
                "buttons are left out; set repository.url in _config.yml to publish them")


def setup(app: Sphinx) -> dict:
    # after Jupyter Book has written _config.yml's settings into html_theme_options
    app.connect("config-inited", drop_buttons_without_repository, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
