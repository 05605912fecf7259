"""Wake-ups across hosts through PostgreSQL ``LISTEN``/``NOTIFY``.

The Unix sockets of :mod:`.notify` reach the processes of one host. When
the web tier runs on several hosts (or the dispatcher on another one), a
blocked ``WAIT`` would otherwise see a change only at its next safety
re-read. With PostgreSQL as the database, every phase change is also sent
as a notification on one channel, and each process listens on it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "uws_wake"
#: NOTIFY payloads must stay under 8000 bytes: split long id lists.
_PAYLOAD_LIMIT = 7000


def libpq_url(sqlalchemy_url: str) -> str:
    """A libpq connection URI from a SQLAlchemy PostgreSQL URL."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PostgresChannel:
    """Publishes and receives job-id wake-ups on a PostgreSQL channel.

    Parameters
    ----------
    database_url
        The service's SQLAlchemy URL (``postgresql+psycopg://...``).
    """

    def __init__(self, database_url: str) -> None:
        self.url = libpq_url(database_url)
        self._send_lock = threading.Lock()
        self._sender: Any = None
        self._listening = False
        self._closed = False
        self._own_pids: set[int] = set()

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def publish(self, job_ids: Iterable[str]) -> None:
        """Send the ids to every listening process (best effort: a failure is logged)."""
        payloads, current = [], ""
        for job_id in sorted(job_ids):
            if len(current) + len(job_id) + 1 > _PAYLOAD_LIMIT:
                payloads.append(current)
                current = ""
            current = f"{current},{job_id}" if current else job_id
        if current:
            payloads.append(current)
        with self._send_lock:
            for attempt in (1, 2):
                try:
                    if self._sender is None or self._sender.closed:
                        self._sender = self._connect()
                        self._own_pids.add(self._sender.info.backend_pid)
                    for payload in payloads:
                        self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                    return
                except Exception as exc:  # the database is away: waiters re-read anyway
                    self._sender = None
                    if attempt == 2:
                        log.warning("cannot publish a wake-up through PostgreSQL: %s", exc)

    def listen(self, on_wake: Callable[[set[str]], None]) -> None:
        """Start a thread that calls ``on_wake(ids)`` for every notification (once)."""
        if self._listening:
            return
        self._listening = True
        threading.Thread(target=self._listen, args=(on_wake,), name="wake-postgres",
                         daemon=True).start()

    def _listen(self, on_wake: Callable[[set[str]], None]) -> None:
        while not self._closed:
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._closed:
                        for note in conn.notifies(timeout=5.0):
                            if note.pid in self._own_pids:
                                continue  # our own: already delivered in-process
                            ids = {part for part in note.payload.split(",") if part}
                            if ids:
                                on_wake(ids)
            except Exception as exc:
                if self._closed:
                    return
                log.warning("PostgreSQL wake-up listener lost its connection (%s); "
                            "reconnecting", exc)
                time.sleep(2.0)

    def close(self) -> None:
        """Stop listening and close the sending connection."""
        self._closed = True
        with self._send_lock, contextlib.suppress(Exception):
            if self._sender is not None:
                self._sender.close()
