"""``/openapi.json`` and ``/docs`` as a live server answers them, on both databases.

The server has a user, so every other route needs credentials: these two are public. The
document carries the package version and an ETag a client revalidates with; the Swagger UI
page and its scripts come from the service itself, with no address elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, own_database
from uws_server import __version__
from uws_server.auth.users import UserService
from uws_server.db import Database, upgrade


@pytest.fixture(scope="module")
def guarded(database_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[LiveServer]:
    """A live server with one user: anonymous callers get 401 outside the public routes."""
    data_dir = tmp_path_factory.mktemp("served")
    with own_database(database_url, data_dir, "served", POSTGRES_BASE) as url:
        upgrade(url)
        db = Database(url)
        UserService(db).add_user("alice")
        db.dispose()
        with LiveServer.start(data_dir, url) as server:
            yield server


class _References(HTMLParser):
    """Every ``src`` and ``href`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs
                       if name in {"src", "href", "data-spec"} and value]


def test_openapi_document_is_public_versioned_and_revalidated_by_etag(guarded):
    assert requests.get(f"{guarded.url}/uws", timeout=10).status_code == 401
    response = requests.get(f"{guarded.url}/openapi.json", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == __version__
    etag = response.headers["ETag"]
    again = requests.get(f"{guarded.url}/openapi.json", headers={"If-None-Match": etag},
                         timeout=10)
    assert again.status_code == 304 and not again.content
    stale = requests.get(f"{guarded.url}/openapi.json", headers={"If-None-Match": '"old"'},
                         timeout=10)
    assert stale.status_code == 200


def test_docs_page_loads_only_what_the_service_serves(guarded):
    page = requests.get(f"{guarded.url}/docs", timeout=10)
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    parser = _References()
    parser.feed(page.text)
    assert len(parser.found) >= 4, parser.found  # styles, two bundles, the initializer, spec
    for reference in parser.found:
        target = urljoin(f"{guarded.url}/docs", reference)
        assert urlsplit(target).netloc == urlsplit(guarded.url).netloc, reference
        fetched = requests.get(target, timeout=30)  # anonymous, as a browser would
        assert fetched.status_code == 200, (reference, fetched.status_code)
    # the page's own script starts Swagger UI on the local document, validator off
    initializer = next(r for r in parser.found if r.endswith("swagger-init.js"))
    script = requests.get(urljoin(guarded.url, initializer), timeout=10).text
    assert "validatorUrl: null" in script
    assert not re.search(r"https?://", script.split("\n", 2)[-1])


def test_docs_assets_outside_the_bundle_are_not_served(guarded):
    for name in ("../__init__.py", "..%2F..%2Fapp.py", "nothing.js"):
        response = requests.get(f"{guarded.url}/docs/assets/{name}", timeout=10)
        assert response.status_code == 404, (name, response.status_code)
