"""Fixtures of the webhook tests: a receiver, and a live server that may call it.

The server allows 127.0.0.1 (the receiver) through the URL guard, denies the
host pattern ``*.denied.example``, retries quickly and signs with a known secret.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, server_with_own_database
from tests.webhooks.receiver import Receiver, running_receiver

SECRET = "webhook-test-secret"
SERVER_ENV = {"UWS_URL_ALLOW": "127.0.0.1/32", "UWS_URL_DENY": "*.denied.example",
              "UWS_WEBHOOK_SECRET": SECRET, "UWS_WEBHOOK_RETRY_BASE": "0.3",
              "UWS_WEBHOOK_TIMEOUT": "2"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A webhook receiver for the module's tests (each test uses paths of its own)."""
    with running_receiver() as state:
        yield state


@pytest.fixture(scope="module")
def hook_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """A live server (per database) whose webhooks may reach the receiver."""
    data_dir = tmp_path_factory.mktemp("hooks")
    with server_with_own_database(database_url, data_dir, "hooks", POSTGRES_BASE,
                                  **SERVER_ENV) as server:
        yield server
