"""``/health`` and ``/ready``: for load balancers, orchestrators and people.

``/health`` says the process answers (liveness: restart me if this fails);
``/ready`` runs :class:`~uws_server.health.Readiness` (database, migrations,
dispatcher lease, backend) and answers 503 naming the checks that failed
(readiness: send me no traffic while this fails). Both are JSON, public and
cheap, and show nothing secret.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from .. import __version__
from ..health import Readiness
from ..timeutil import format_utc
from .http import components, json_response

bp = Blueprint("health", __name__)

#: Where the process's :class:`Readiness` lives on the app.
READINESS_KEY = "uws_readiness"


def readiness() -> Readiness:
    """This app's readiness checker (made on first use, one per app)."""
    found = current_app.extensions.get(READINESS_KEY)
    if found is None:
        parts = components()
        found = Readiness(parts.db, parts.settings.run_dir)
        current_app.extensions[READINESS_KEY] = found
    checker: Readiness = found
    return checker


@bp.get("/health")
def health() -> Response:
    """The process answers: 200 with the version, and nothing that could block."""
    response = json_response({"status": "ok", "version": __version__})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/ready")
def ready() -> Response:
    """200 when every check passes, 503 naming the failed ones; each check's findings."""
    checker = readiness()
    report = checker.report()
    doc = {
        "status": "ready" if report.ready else "not ready",
        "version": __version__,
        "checked": format_utc(report.at),
        "up_since": format_utc(checker.up_since),
        "failed": report.failed,
        "checks": {check.name: {"ok": check.ok, **check.detail} for check in report.checks},
    }
    response = json_response(doc, 200 if report.ready else 503)
    response.headers["Cache-Control"] = "no-store"
    return response
