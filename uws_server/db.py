"""Engine and sessions: SQLite (WAL) by default, PostgreSQL in production.

SQLite allows one writer at a time. A read transaction that later writes
fails at once if another writer committed in between, so sessions that will
write start with ``BEGIN IMMEDIATE`` (:func:`Database.write`); reads stay
deferred and never block on writers thanks to WAL.

Writers that find the database locked wait in SQLite's busy handler, which
sleeps in growing steps (up to 100 ms) and retries: under concurrent job
creation a writer slept long after the lock was free (p99 of a creation
0.5-0.7 s). :class:`WriterTurn` makes them queue instead, on a lock that wakes
the next one the moment the previous commits within a process (a thread
lock), and within a millisecond across processes (``flock`` on a file beside
the database, polled).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

#: Name of the session info key holding job ids whose phase changed.
CHANGED_JOBS = "uws_changed_jobs"
#: A pooled PostgreSQL connection idle longer than this is pinged before use.
IDLE_PING_SECONDS = 30.0
T = TypeVar("T")
#: Longest wait for the SQLite writer's turn (:class:`WriterTurn`), as SQLite's busy timeout.
TURN_TIMEOUT = 30.0
#: How often a writer waiting for another process's turn looks again.
TURN_POLL_SECONDS = 0.001


class WriterTurn:
    """One SQLite writer at a time across threads and processes, woken at once.

    Parameters
    ----------
    path
        The database file; the lock file is ``path`` + ``.writer-lock``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".writer-lock")
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for the turn (re-entrant within a thread), keep it for the block.

        A holder that never lets go (a process stopped mid-transaction) is waited
        for :data:`TURN_TIMEOUT` seconds at most; then the block runs without the
        turn and SQLite's own locking decides, as it did before.
        """
        deadline = time.monotonic() + TURN_TIMEOUT
        if not self._thread_lock.acquire(timeout=TURN_TIMEOUT):
            yield
            return
        try:
            self._depth += 1
            locked = self._depth > 1 or self._lock_file(deadline)
            try:
                yield
            finally:
                if self._depth == 1 and locked:
                    fcntl.flock(self._file(), fcntl.LOCK_UN)
                self._depth -= 1
        finally:
            self._thread_lock.release()

    def _lock_file(self, deadline: float) -> bool:
        """flock the file, polling every millisecond (a blocking flock has no timeout)."""
        while True:
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(TURN_POLL_SECONDS)


class Database:
    """One engine and the two kinds of session the service uses.

    Parameters
    ----------
    url
        SQLAlchemy database URL.
    on_commit
        Called after every commit with the set of job ids whose phase the
        committed transaction changed: this is how blocked WAIT requests and
        the dispatcher are woken by the change itself.
    """

    def __init__(self, url: str, on_commit: Callable[[set[str]], None] | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = self._make_engine(url)
        file = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
        self._turn = WriterTurn(Path(file)) if file and ":memory:" not in file else None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(uws_immediate=True), expire_on_commit=False
        )
        self._on_commit = on_commit
        for maker in (self._sessions, self._write_sessions):
            event.listen(maker, "after_commit", self._after_commit)
            event.listen(maker, "after_rollback", self._after_rollback)

    def _make_engine(self, url: str) -> Engine:
        if not self.is_sqlite:
            engine = create_engine(url, pool_size=10, max_overflow=20)
            _ping_when_idle(engine)
            return engine
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            poolclass=NullPool if ":memory:" in url else None,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            immediate = connection.get_execution_options().get("uws_immediate")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def _after_commit(self, session: Session) -> None:
        changed = session.info.pop(CHANGED_JOBS, None)
        if changed and self._on_commit is not None:
            self._on_commit(set(changed))

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(CHANGED_JOBS, None)

    def session(self, *, write: bool = False) -> Session:
        """A new session; ``write=True`` for one that will change rows."""
        return (self._write_sessions if write else self._sessions)()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A writing transaction: commit on success, roll back on any exception."""
        if self._turn is None:
            with self._write_session() as session:
                yield session
            return
        with self._turn.held(), self._write_session() as session:
            yield session

    @contextmanager
    def _write_session(self) -> Iterator[Session]:
        session = self.session(write=True)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session, closed afterwards."""
        session = self.session()
        try:
            yield session
        finally:
            session.close()  # ends the transaction without expiring loaded objects

    def reading(self, read: Callable[[Connection], T]) -> T:
        """``read(connection)`` on a pooled connection, run again once if it was dead.

        The connections are not pinged on the hot path (see :func:`_ping_when_idle`):
        a database restarted under a busy pool fails the statement instead, the
        pool drops every connection it holds, and the read is simply repeated
        on a new one. Only reads are repeated: a write cut off may have committed.
        """
        for attempt in (1, 2):
            try:
                with self.engine.connect() as connection:
                    return read(connection)
            except exc.DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection only when it sat idle for a while.

    ``pool_pre_ping`` costs a round trip on every checkout, a quarter of a job
    GET's. A connection handed back moments ago is alive in practice; one idle
    longer than :data:`IDLE_PING_SECONDS` (a firewall, a database restart) is
    checked first, and a dead one makes the pool open another
    (``DisconnectionError``). Failures in between are caught by
    :meth:`Database.reading` and by the pool's invalidation on a disconnect.
    """
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["uws_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("uws_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as error:
            raise exc.DisconnectionError(str(error)) from error


def mark_changed(session: Session, job_id: str) -> None:
    """Remember that this transaction changed a job's phase (wakes waiters on commit)."""
    session.info.setdefault(CHANGED_JOBS, set()).add(job_id)


def upgrade(url: str) -> None:
    """Bring the database schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
