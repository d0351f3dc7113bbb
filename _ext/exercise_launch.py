"""Sphinx extension: on each solutions page, a launch button for the student's notebook.

The self-study website shows the exercises with their solutions (solutions/*.md); the
theme's Colab and Binder buttons therefore open the solution notebook. Students need the
exercise notebook of the same name (exercises/*.ipynb, without solutions), so this adds
"... (exercises)" entries to the launch menu, derived from the theme's own links.
"""

from __future__ import annotations

from sphinx.application import Sphinx

SOLUTIONS, EXERCISES = "solutions/", "exercises/"


def add_exercise_buttons(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if not pagename.startswith(SOLUTIONS):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        extra = []
        for button in group.get("buttons", []):
            url = button.get("url", "")
            if SOLUTIONS in url:
                extra.append({**button, "text": f"{button['text']} (exercises)",
                              "tooltip": f"{button.get('tooltip', '')}: the exercise "
                                         "notebook, without solutions",
                              "url": url.replace(SOLUTIONS, EXERCISES)})
        group["buttons"] = group.get("buttons", []) + extra


def setup(app: Sphinx) -> dict:
    # after sphinx-book-theme has made its launch buttons (priority 501)
    app.connect("html-page-context", add_exercise_buttons, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
