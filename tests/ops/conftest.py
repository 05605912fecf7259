"""Fixtures of the operations tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_BASE, _require_postgres
from tests.support import postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each kind with nothing in it, not even the schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    _require_postgres()
    with postgres_schema(POSTGRES_BASE, f"uws_ops_{uuid.uuid4().hex[:10]}") as url:
        yield url
