"""Shared test setup: a non-interactive matplotlib backend, and the `book` marker.

Tests under tests/book/ read the website built by `make book`, and tests under
tests/browser/ drive it in Chromium; they carry the `book` and `browser` markers so that
`make unit` runs without a build, and `make book-tests` and `make browser-tests` after one.
"""

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw figures without a screen

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
