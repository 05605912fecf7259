"""Request ids: one per HTTP request, accepted from the client or made here.

A client (or a proxy in front) may send ``X-Request-ID``; it is kept when it
is at most :data:`MAX_LENGTH` characters of :data:`SAFE` (letters, digits and
``._:-``: a UUID, a ULID, a proxy's hex id all fit), and replaced by a fresh
one otherwise, so that a log line never carries what a client chose to inject
(newlines, quotes, megabytes). The id is answered on every response and put on
every log record emitted while the request runs (:class:`RequestIdFilter`),
through a context variable, so that threads serving other requests never see it.
"""

from __future__ import annotations

import logging
import os
import re
from contextvars import ContextVar, Token

HEADER = "X-Request-ID"
MAX_LENGTH = 128
SAFE = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_LENGTH}}}")

_current: ContextVar[str | None] = ContextVar("uws_request_id", default=None)


def accept(sent: str | None) -> str:
    """The request's id: ``sent`` when it is safe to log as it is, a new one otherwise."""
    if sent and SAFE.fullmatch(sent):
        return sent
    return os.urandom(16).hex()  # 32 hex digits, as uuid4().hex, at a third of its cost


def begin(request_id: str) -> Token[str | None]:
    """Make ``request_id`` the current one (until :func:`end` with the returned token)."""
    return _current.set(request_id)


def end(token: Token[str | None]) -> None:
    """Forget the request's id: the thread's next request starts without one."""
    _current.reset(token)


def current() -> str | None:
    """The id of the request being served by this thread, if any."""
    return _current.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``None`` outside a request), for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Never drops a record; only annotates it."""
        if not hasattr(record, "request_id"):
            record.request_id = _current.get()
        return True
