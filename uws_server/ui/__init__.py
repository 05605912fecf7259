"""The web interface under ``/ui/``: see, submit, watch and share jobs from a browser.

Server-side pages (Jinja2 templates in ``templates/ui``) over the same
services as the API doors, with a little JavaScript (``static/ui/ui.js``)
that follows active jobs by polling small JSON endpoints. The pages are
thin handlers too: the routes live in :mod:`.pages` (reading),
:mod:`.actions` (changing jobs), :mod:`.batches`, :mod:`.submit` and :mod:`.admin`.

Authentication (:mod:`.session`): the session cookie of a signed-in browser,
else the request's headers as the API doors read them. Unauthenticated pages
redirect to the sign-in page; JSON endpoints answer 401.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, render_template, request, url_for

from ..api.http import components, json_response, see_other
from ..auth.authenticator import CHALLENGES
from ..errors import NotAuthenticated, UWSError
from ..services.browse import BrowseService
from . import session as ui_session

bp = Blueprint("ui", __name__, url_prefix="/ui")

#: Endpoints that need nobody signed in (listed in ``app.PUBLIC_ENDPOINTS`` too).
PUBLIC = frozenset({"ui.signin_form", "ui.signin"})
#: Content-Security-Policy of every page: nothing but this service's own files.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def is_json_endpoint() -> bool:
    """Whether this request is one of the pages' JSON endpoints (polling)."""
    return (request.endpoint or "").endswith("_json")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of the interface, never another site."""
    if target and target.startswith("/ui/") and not target.startswith("/ui//") \
            and "\\" not in target:
        return target
    return url_for("ui.jobs")


def browse() -> BrowseService:
    """The read-path service of the pages (a thin wrapper of the database: cheap to make)."""
    return BrowseService(components().db)


@bp.before_request
def _authenticate() -> Response | None:
    """The caller (cookie, else headers) and, for a POST, the form's CSRF token."""
    if request.endpoint in PUBLIC:
        if request.method == "POST":
            ui_session.check_csrf(request)
        return None
    try:
        ui_session.identify()
    except NotAuthenticated as exc:
        if is_json_endpoint():
            answer = json_response({"error": exc.message, "status": 401}, 401)
            answer.headers["WWW-Authenticate"] = CHALLENGES[0]  # Bearer: no browser prompt
            return answer
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        location = url_for("ui.signin_form")
        if target:
            location += "?next=" + quote(target, safe="/")
        return see_other(location)
    if request.method == "POST":
        ui_session.check_csrf(request)
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    """No caching of pages that show someone's jobs; no framing; a strict CSP."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(UWSError)
def _error(exc: UWSError) -> Response | tuple[str, int]:
    """Refusals as a page (or JSON for the polling endpoints), never a stack trace."""
    if is_json_endpoint():
        return json_response({"error": exc.message, "status": exc.status}, exc.status)
    return render_template("ui/error.html", status=exc.status, message=exc.message), exc.status


@bp.app_context_processor
def _context() -> dict[str, Any]:
    """What every template may use: the CSRF token and who is signed in."""
    return {"csrf_token": ui_session.csrf_token, "me": g.get("uws_identity"),
            "signed_in": g.get("ui_via") == "session"}


from . import actions, admin, batches, pages, submit  # noqa: E402,F401  (routes register on bp)
