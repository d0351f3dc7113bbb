import pytest

from tests.site_server import chromium, serve


@pytest.fixture(scope="session")
def site_url():
    try:
        with serve() as url:
            yield url
    except FileNotFoundError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def browser():
    try:
        with chromium() as launched:
            yield launched
    except FileNotFoundError as error:
        pytest.fail(str(error))
