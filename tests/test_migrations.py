"""Alembic migrations and the models describe the same schema, on both databases."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import POSTGRES_BASE, _require_postgres
from tests.support import postgres_schema
from uws_server.db import upgrade
from uws_server.models import Base


def _head() -> str:
    """The newest revision of the shipped migrations."""
    from alembic.script import ScriptDirectory

    from uws_server.resources import PACKAGE_DIR

    return ScriptDirectory(str(PACKAGE_DIR / "migrations")).get_current_head() or ""


def _diff(url: str) -> list:
    upgrade(url)
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_sqlite_schema_after_migrations_matches_the_models(tmp_path):
    assert _diff(f"sqlite:///{tmp_path / 'm.sqlite3'}") == []


def test_postgresql_schema_after_migrations_matches_the_models():
    _require_postgres()
    with postgres_schema(POSTGRES_BASE, f"uws_mig_{uuid.uuid4().hex[:10]}") as url:
        assert _diff(url) == []


def test_upgrade_twice_is_harmless(tmp_path):
    url = f"sqlite:///{tmp_path / 'twice.sqlite3'}"
    upgrade(url)
    upgrade(url)
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == _head()
    engine.dispose()


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_every_model_table_is_created_by_the_migrations(tmp_path, table):
    url = f"sqlite:///{tmp_path / 't.sqlite3'}"
    upgrade(url)
    engine = sqlalchemy.create_engine(url)
    assert table in sqlalchemy.inspect(engine).get_table_names()
    engine.dispose()
