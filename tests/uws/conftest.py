"""Fixtures of the UWS 1.1 conformance suite.

Most tests use the session ``server`` (one per database). ``limited_server``
is a second server, also one per database but with a database of its own,
started with small limits: request and upload sizes, a 2 s WAIT cap, one
concurrent waiter, and the ``archive`` destruction policy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, server_with_own_database

MAX_REQUEST_BYTES = 4000
MAX_UPLOAD_BYTES = 1000
MAX_WAIT = 2


@pytest.fixture(scope="session")
def limited_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[LiveServer]:
    """A server with tiny limits and the archive policy, on its own database of the same kind."""
    data_dir = tmp_path_factory.mktemp("limited")
    with server_with_own_database(
            database_url, data_dir, "limited", POSTGRES_BASE,
            UWS_MAX_REQUEST_BYTES=str(MAX_REQUEST_BYTES),
            UWS_MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES), UWS_MAX_WAIT=str(MAX_WAIT),
            UWS_MAX_WAITERS="1", UWS_DESTRUCTION_POLICY="archive") as live:
        yield live


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    """Job URLs appended here are deleted after the test (stops long sleep jobs)."""
    urls: list[str] = []
    yield urls
    for url in urls:
        with contextlib.suppress(requests.RequestException):
            requests.delete(url, allow_redirects=False, timeout=10)


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    """A small UTF-8 text file of five words."""
    path = tmp_path / "words.txt"
    path.write_text("one two three\nfour five\n", encoding="utf-8")
    return path
