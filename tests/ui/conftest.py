"""A live server with three users (alice, bob, the admin ops) for the web-interface tests.

``ui_server`` runs once per database kind (SQLite, PostgreSQL) per module. The browser
tests drive Debian's ``chromium`` through Playwright (``executable_path``: no browser is
downloaded); without it they skip, except where ``UWS_REQUIRE_BROWSER=1`` or ``CI`` is set,
where a missing browser is an error.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, own_database
from uws_server.auth.users import UserService
from uws_server.db import Database, upgrade

USERS = {"alice": False, "bob": False, "ops": True}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


@dataclass
class UiServer:
    """The live server and a token of each user."""

    server: LiveServer
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def signed_in(self, user: str) -> requests.Session:
        """A requests session signed in through the form, as a browser would be."""
        web = requests.Session()
        form = web.get(f"{self.url}/ui/signin", timeout=10)
        response = web.post(f"{self.url}/ui/signin", timeout=10, allow_redirects=False,
                            data={"token": self.tokens[user], "csrf_token": csrf_of(form.text),
                                  "next": "/ui/jobs"})
        assert response.status_code == 303, response.text
        return web


def csrf_of(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


@pytest.fixture(scope="module")
def ui_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[UiServer]:
    data_dir = tmp_path_factory.mktemp("ui")
    with own_database(database_url, data_dir, "ui", POSTGRES_BASE) as url:
        upgrade(url)
        db = Database(url)
        users = UserService(db)
        tokens = {}
        for name, admin in USERS.items():
            users.add_user(name, admin=admin)
            tokens[name] = users.create_token(name, label="tests")[1]
        db.dispose()
        with LiveServer.start(data_dir, url) as server:
            yield UiServer(server, tokens)


def chromium_path() -> str | None:
    """Debian's chromium (or another Chrome) on PATH, if any."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium driven by Playwright."""
    path = chromium_path()
    required = os.environ.get("UWS_REQUIRE_BROWSER") == "1" or bool(os.environ.get("CI"))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("playwright is required (UWS_REQUIRE_BROWSER=1 or CI) but missing")
        pytest.skip("playwright is not installed")
    if path is None:
        if required:
            pytest.fail("chromium is required (UWS_REQUIRE_BROWSER=1 or CI) but not on PATH: "
                        "apt-get install chromium")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=path, headless=True,
                                          args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield launched
        finally:
            launched.close()
