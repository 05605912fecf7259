"""The service root: ``GET /`` says where the front doors are."""

from __future__ import annotations

from flask import Blueprint, Response

from .. import __version__
from .http import TEXT_TYPE

bp = Blueprint("root", __name__)


@bp.get("/")
def index() -> Response:
    """A one-screen pointer to the front doors, for curl and browsers."""
    text = (f"uws-server {__version__}\n"
            "UWS 1.1 job lists: /uws\n"
            "Job-type registry: /v6/job-types/\n"
            "OCPS dialect: /api/v1/job\n"
            "Web interface: /ui/\n")
    return Response(text, content_type=TEXT_TYPE)
