import pytest

from tests.site_server import chromium, serve


def _entered_or_failed(manager):
    """Yield what ``manager`` provides; a missing site or browser fails the test run with its
    own message instead of an error trace."""
    try:
        with manager as value:
            yield value
    except FileNotFoundError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def site_url():
    yield from _entered_or_failed(serve())


@pytest.fixture(scope="session")
def browser():
    yield from _entered_or_failed(chromium())
