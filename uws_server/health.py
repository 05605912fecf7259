"""Readiness: may this process be sent traffic? Four checks, cheap enough for every probe.

``/ready`` and VOSI ``/availability`` answer from :meth:`Readiness.report`:

- ``database``: the database answers (one query, which also reads the schema revision);
- ``migrations``: its schema is at the newest revision this code ships;
- ``dispatcher``: some dispatcher holds a fresh lease (``dispatcher_lease`` row
  not expired), so queued jobs will move;
- ``backend``: the execution backend answered the dispatcher's last call, as
  the dispatcher recorded it (:class:`BackendHealth`, a small file in the run
  directory written only when the state changes). No backend is called here:
  a probe never waits on a batch system.

A report is kept for :data:`REPORT_TTL` seconds, so that a crowd of probes
costs one query a second. Reports hold nothing secret: no URL, no holder
name, no backend message (those go to the dispatcher's log).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from .db import Database
from .metrics import BACKEND_FAILURES
from .models import DispatcherLease
from .timeutil import as_utc, format_utc, utcnow

log = logging.getLogger(__name__)

#: Seconds a readiness report is reused before the checks run again.
REPORT_TTL = 1.0
#: The file, in the run directory, where the dispatcher records what the backend last did.
BACKEND_FILE = "backend-health.json"


def schema_head() -> str:
    """The newest migration revision this code ships (read once per process)."""
    from .schema_versions import head

    return head()


class BackendHealth:
    """The dispatcher's record of whether its backend answered its last call.

    Parameters
    ----------
    run_dir
        Where the record is written (the data directory's ``run``, shared by
        the web tier and the dispatcher of one deployment).
    backend
        The executor's name (``local``, ``slurm``, ``htcondor``).
    """

    def __init__(self, run_dir: Path, backend: str) -> None:
        self.path = run_dir / BACKEND_FILE
        self.backend = backend
        self._ok: bool | None = None

    def answered(self) -> None:
        """The backend answered a call: record it if that is news."""
        if self._ok is not True:
            self._record(True, None)

    def failed(self, operation: str) -> None:
        """A call to the backend (``poll``, ``submit``, ``orphans``) could not reach it."""
        BACKEND_FAILURES.labels(self.backend, operation).inc()
        if self._ok is not False:
            self._record(False, operation)

    def _record(self, ok: bool, operation: str | None) -> None:
        doc = {"backend": self.backend, "ok": ok, "since": format_utc(utcnow()),
               "operation": operation}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            scratch.write_text(json.dumps(doc), encoding="utf-8")
            os.replace(scratch, self.path)
        except OSError as exc:
            log.warning("cannot record the backend's health in %s: %s", self.path, exc)
            return
        self._ok = ok


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """Every check, at one time."""

    checks: tuple[Check, ...]
    at: datetime

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        """The names of the checks that did not pass."""
        return [check.name for check in self.checks if not check.ok]


class Readiness:
    """Runs the checks for one process, at most once per ``ttl`` seconds.

    Parameters
    ----------
    db
        The process's database.
    run_dir
        Where the dispatcher records the backend's health.
    ttl
        Seconds a report is reused.
    """

    def __init__(self, db: Database, run_dir: Path, ttl: float = REPORT_TTL) -> None:
        self.db = db
        self.backend_file = run_dir / BACKEND_FILE
        self.ttl = ttl
        self.up_since = utcnow()
        self._lock = threading.Lock()
        self._report: Report | None = None
        self._expires = 0.0
        self._backend_seen: tuple[int, int] | None = None
        self._backend: dict[str, Any] | None = None

    def report(self) -> Report:
        """The current report (a cached one if younger than ``ttl``)."""
        now = time.monotonic()
        with self._lock:
            if self._report is not None and now < self._expires:
                return self._report
            report = Report(self._run(), utcnow())
            self._report, self._expires = report, time.monotonic() + self.ttl
            return report

    def _run(self) -> tuple[Check, ...]:
        head = schema_head()
        try:
            with self.db.read() as session:
                current = session.execute(text("SELECT version_num FROM alembic_version")
                                          ).scalar()
                expires = session.scalar(select(DispatcherLease.expires_at)
                                         .where(DispatcherLease.id == 1))
        except SQLAlchemyError as exc:
            log.warning("readiness: database check failed: %s", type(exc).__name__)
            return (Check("database", False, {"error": "the database does not answer"}),
                    Check("migrations", False, {"head": head}),
                    Check("dispatcher", False, {}), self._backend_check())
        left = None if expires is None else (as_utc(expires) - utcnow()).total_seconds()
        return (
            Check("database", True),
            Check("migrations", current == head, {"current": current, "head": head}),
            Check("dispatcher", left is not None and left > 0,
                  {"lease_expires_in": None if left is None else round(left, 1)}),
            self._backend_check(),
        )

    def _backend_check(self) -> Check:
        """What the dispatcher recorded; re-read only when the file changed."""
        try:
            stat = self.backend_file.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
            if seen != self._backend_seen:
                self._backend = json.loads(self.backend_file.read_text(encoding="utf-8"))
                self._backend_seen = seen
        except FileNotFoundError:
            self._backend, self._backend_seen = None, None
        except (OSError, ValueError):
            self._backend, self._backend_seen = None, None
        doc = self._backend
        if not isinstance(doc, dict):
            return Check("backend", True, {"state": "not seen yet"})
        detail = {key: doc.get(key) for key in ("backend", "since", "operation")}
        ok = doc.get("ok") is True
        return Check("backend", ok, {"state": "answering" if ok else "unreachable", **detail})
