"""Shared test setup: a non-interactive matplotlib backend, and the `book` marker.

Tests under tests/book/ read the website built by `make book`; they carry the `book` marker
so that `make unit` can run without a build and `make book-tests` after one.
"""

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw figures without a screen

ROOT = Path(__file__).resolve().parent.parent
BOOK_TESTS = Path(__file__).resolve().parent / "book"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BOOK_TESTS in Path(item.fspath).parents:
            item.add_marker(pytest.mark.book)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
