"""Which schema revision a database is at, and which revisions this code ships.

Read through Alembic's API (the script directory and the ``alembic_version``
table), for ``uws-server db current`` / ``db history`` and the ``/ready``
migrations check.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from .resources import PACKAGE_DIR


@dataclass(frozen=True)
class Revision:
    """One shipped migration: its id, the one it follows, and its title (first doc line)."""

    id: str
    down: str | None
    title: str


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(PACKAGE_DIR / "migrations"))


def head() -> str:
    """The newest revision this code ships."""
    return _scripts().get_current_head() or ""


def history() -> list[Revision]:
    """Every shipped revision, newest first."""
    revisions = []
    for script in _scripts().walk_revisions():
        down = script.down_revision
        title = (script.doc or "").strip().splitlines()[0] if script.doc else ""
        revisions.append(Revision(script.revision, down if isinstance(down, str) else None,
                                  title))
    return revisions


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; ``None`` for a database never migrated.

    Raises
    ------
    sqlalchemy.exc.OperationalError
        (and other ``SQLAlchemyError``) when the database cannot be reached.
    """
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if "alembic_version" not in inspect(connection).get_table_names():
                return None
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
