"""Shared fixtures: a real database (SQLite file and PostgreSQL) and live server processes.

Server-level tests run once per database: the ``server`` fixture is
parametrised over SQLite and PostgreSQL and starts a real ``uws-server serve``
process for each. ``client`` is the same application in this process (Flask's
test client over ``components``, a fresh database per test, no dispatcher):
for HTTP tests that need neither jobs that run nor a second process.
PostgreSQL tests skip when no server answers at 127.0.0.1:5432, unless
``UWS_REQUIRE_POSTGRES=1`` (CI) makes that an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support import LiveServer, postgres_available, postgres_schema
from uws_server.app import create_app
from uws_server.config import Settings
from uws_server.wiring import Components, bootstrap, build_components

POSTGRES_BASE = os.environ.get("UWS_TEST_POSTGRES",
                               "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _require_postgres() -> None:
    if postgres_available(POSTGRES_BASE):
        return
    if os.environ.get("UWS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required (UWS_REQUIRE_POSTGRES=1) but {POSTGRES_BASE} "
                    "does not answer")
    pytest.skip(f"PostgreSQL not reachable at {POSTGRES_BASE}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """A fresh, empty database of each kind (PostgreSQL: a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'uws.sqlite3'}"
        return
    _require_postgres()
    with postgres_schema(POSTGRES_BASE, f"uws_test_{uuid.uuid4().hex[:10]}") as url:
        yield url


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``uws-server serve`` process on a free port, one per database.

    It may fetch inputs from 127.0.0.1 (the tests' file servers), which the SSRF
    guard refuses by default; tests/hardening proves that default on servers of its own.
    """
    data_dir = tmp_path_factory.mktemp("data")
    with LiveServer.start(data_dir, database_url, UWS_URL_ALLOW="127.0.0.1/32") as live:
        yield live


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory for in-process tests."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings ``components`` (and so ``client``) uses besides its defaults.

    A test module that needs others (allow-lists, limits) defines its own
    ``settings_overrides`` fixture returning them.
    """
    return {}


@pytest.fixture(params=["sqlite", "postgresql"])
def components(request: pytest.FixtureRequest, tmp_path: Path,
               settings_overrides: dict[str, Any]) -> Iterator[Components]:
    """A migrated, empty database of each kind with the example job types, and the service
    around it (for in-process tests of services and the dispatcher)."""
    def build(url: str) -> Components:
        settings = Settings(data_dir=tmp_path / "data", database_url=url, poll_interval=0.05,
                            **settings_overrides)
        bootstrap(settings)
        return build_components(settings)

    if request.param == "sqlite":
        parts = build(f"sqlite:///{tmp_path / 'uws.sqlite3'}")
        yield parts
    else:
        _require_postgres()
        with postgres_schema(POSTGRES_BASE, f"uws_svc_{uuid.uuid4().hex[:10]}") as url:
            parts = build(url)
            yield parts
            parts.db.dispose()
    parts.bus.close()


@pytest.fixture
def client(components: Components) -> FlaskClient:
    """The web application over ``components`` in this process (Flask's test client)."""
    return create_app(components=components).test_client()
