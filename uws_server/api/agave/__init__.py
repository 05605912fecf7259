"""The Agave jobs API under ``/jobs/v2``: what agavepy's ``jobs`` resource talks to.

Thin handlers over :class:`~uws_server.services.agave.service.AgaveJobs`; the
documents are in :mod:`uws_server.render.agave_json`. Every answer, errors
included, is Agave's envelope ``{"status", "message", "version", "result"}``
with the HTTP status kept. See docs/agave.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint

from ...render.agave_json import envelope
from ..errors import shaped_door

bp = Blueprint("agave", __name__, url_prefix="/jobs/v2")


def _error(status: int, line: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    return {**envelope(None, line, status="error"), **extra}


shaped_door(bp, _error)

from . import jobs, outputs, pems  # noqa: E402  (the routes register themselves on bp)

__all__ = ["bp", "jobs", "outputs", "pems"]
