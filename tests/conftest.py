"""Shared test setup: a non-interactive matplotlib backend, the `book` marker, and
property tests that draw the same examples on every run.

Tests under tests/book/ read the website built by `make book`, and tests under
tests/browser/ drive it in Chromium; they carry the `book` and `browser` markers so that
`make unit` runs without a build, and `make book-tests` and `make browser-tests` after one.
"""

import os
from pathlib import Path

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")  # tests draw figures without a screen

# Hypothesis draws its examples from a fixed seed, so a run on a clean clone (CI, no example
# database) tests exactly what the last run tested: a failure is a change, not a new draw.
# `HYPOTHESIS_PROFILE=explore pytest ...` searches afresh, to find new failing cases.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parent.parent
BOOK_TESTS = Path(__file__).resolve().parent / "book"
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parents = Path(item.fspath).parents
        if BOOK_TESTS in parents:
            item.add_marker(pytest.mark.book)
        if BROWSER_TESTS in parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
