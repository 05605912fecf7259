"""A live server per database with three users (two ordinary, one admin) for the batch API.

Its operator maps two filesystems and caps hardware (``UWS_MAX_CPU``, ``UWS_MAX_MEMORY_MIB``),
allows one OCPS command, and runs four local jobs at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, own_database
from uws_server.auth.users import UserService
from uws_server.db import Database, upgrade

OCPS_COMMAND = "echo from-a-batch"
FILESYSTEMS = "scratch=/mnt/scratch, data=/srv/data"


@dataclass
class Users:
    """The live server and a token per user."""

    server: LiveServer
    db: Database
    tokens: dict[str, str]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(self, method: str, path: str, user: str = "alice", **kwargs: Any
             ) -> requests.Response:
        """A request to the server as ``user`` (a path under its root)."""
        headers = {**kwargs.pop("headers", {}), **self.headers(user)}
        return requests.request(method, self.server.url + path, headers=headers,
                                timeout=120, allow_redirects=False, **kwargs)

    def create(self, body: dict[str, Any], user: str = "alice") -> dict[str, Any]:
        """POST a batch; assert 201; its document."""
        response = self.call("POST", "/batches", user, json=body)
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture(scope="session")
def users(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Users]:
    data_dir = tmp_path_factory.mktemp("batches")
    with own_database(database_url, data_dir, "batches", POSTGRES_BASE) as url:
        upgrade(url)
        db = Database(url)
        service = UserService(db)
        tokens = {}
        for name, admin in (("alice", False), ("bob", False), ("ops", True)):
            service.add_user(name, admin=admin)
            tokens[name] = service.create_token(name)[1]
        with LiveServer.start(data_dir, url, UWS_FILESYSTEMS=FILESYSTEMS, UWS_MAX_CPU="8",
                              UWS_MAX_MEMORY_MIB="4096", UWS_LOCAL_CONCURRENCY="4",
                              UWS_OCPS_ALLOWED_COMMANDS=OCPS_COMMAND) as server:
            yield Users(server, db, tokens)
        db.dispose()
