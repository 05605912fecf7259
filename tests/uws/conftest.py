"""Fixtures of the UWS 1.1 conformance suite.

Most tests use the session ``server`` (one per database). ``limited_server``
is a second server, also one per database but with a database of its own,
started with small limits: request and upload sizes, a 2 s WAIT cap, one
concurrent waiter, and the ``archive`` destruction policy.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, postgres_schema

MAX_REQUEST_BYTES = 4000
MAX_UPLOAD_BYTES = 1000
MAX_WAIT = 2


@pytest.fixture(scope="session")
def limited_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[LiveServer]:
    """A server with tiny limits and the archive policy, on its own database of the same kind."""
    data_dir = tmp_path_factory.mktemp("limited")
    with contextlib.ExitStack() as stack:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{data_dir / 'limited.sqlite3'}"
        else:
            url = stack.enter_context(
                postgres_schema(POSTGRES_BASE, f"uws_limited_{uuid.uuid4().hex[:10]}"))
        live = stack.enter_context(LiveServer.start(
            data_dir, url, UWS_MAX_REQUEST_BYTES=str(MAX_REQUEST_BYTES),
            UWS_MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES), UWS_MAX_WAIT=str(MAX_WAIT),
            UWS_MAX_WAITERS="1", UWS_DESTRUCTION_POLICY="archive"))
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
