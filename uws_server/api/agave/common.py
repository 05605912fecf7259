"""What the ``/jobs/v2`` handlers share: the service, URLs, paging and the envelope."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ...render.agave_json import envelope
from ...services.agave.service import AgaveJobs
from .. import http

#: The most entries one page may hold (agavepy asks for 250 by default).
MAX_LIMIT = 1000


def service() -> AgaveJobs:
    """The Agave jobs service over this process's components (it holds no state)."""
    parts = http.components()
    return AgaveJobs(parts.jobs, parts.grants, parts.settings.executor)


def api_url() -> str:
    """The absolute URL of ``/jobs/v2``."""
    return f"{http.base_url()}/jobs/v2"


def uws_url() -> str:
    """The absolute URL of ``/uws`` (the UWS job lists)."""
    return f"{http.base_url()}/uws"


def paging() -> tuple[int, int]:
    """``limit`` (default 250) and ``offset`` (default 0) of the query string."""
    pairs = [(k, v) for k, vs in request.args.lists() for v in vs]
    limit = http.int_value(pairs, "limit", default=250, low=1, high=MAX_LIMIT)
    offset = http.int_value(pairs, "offset", default=0, low=0, high=10**9)
    return limit, offset


def answer(result: Any, message: str | None = None, status: int = 200) -> Response:
    """A success envelope."""
    return http.json_response(envelope(result, message), status)
