"""The job-type registry over HTTP: Scale's v6 job-types API under ``/v6``.

Thin handlers: parse the query or body, call one service function, render.
Every answer is JSON, errors too: ``{"detail": "one line"}`` with the status,
and for a rejected job type also ``is_valid``, ``errors`` and ``warnings``.
Routes have Scale's trailing slashes and also answer without them (no redirect).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, request

from ..db import Database
from ..errors import InvalidParameter
from ..jobtypes import queries, registry
from ..jobtypes import service as jobtypes
from ..render import jobtypes_json as render
from ..timeutil import parse_utc, utcnow
from . import http
from .errors import detail_errors
from .http import current_identity, json_response

bp = Blueprint("jobtypes", __name__, url_prefix="/v6")

_DURATION = re.compile(r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?"
                       r"(?:(\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def _route(rule: str, **options: Any) -> Callable[[Callable[..., Response]],
                                                  Callable[..., Response]]:
    """Register a view at ``rule`` (ending in ``/``) and at ``rule`` without the slash."""
    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        bp.add_url_rule(rule, view_func=view, **options)
        bp.add_url_rule(rule.rstrip("/"), endpoint=f"{view.__name__}_noslash", view_func=view,
                        **options)
        return view

    return decorate


def _db() -> Database:
    return http.components().db


# -- query parameters --------------------------------------------------------------------------
def _args() -> list[tuple[str, str]]:
    return [(k, v) for k, vs in request.args.lists() for v in vs]


def _one(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise InvalidParameter(f"{name}: given {len(values)} times, expected once")
    return values[0] if values else None


def _int(name: str, default: int, low: int, high: int) -> int:
    text = _one(name)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidParameter(f"{name}: expected an integer, got {text!r}") from None
    if not low <= value <= high:
        raise InvalidParameter(f"{name}: must be from {low} to {high}, got {value}")
    return value


def _bool(name: str) -> bool | None:
    text = _one(name)
    if text is None:
        return None
    folded = text.strip().lower()
    if folded in {"true", "1"}:
        return True
    if folded in {"false", "0"}:
        return False
    raise InvalidParameter(f"{name}: expected true or false, got {text!r}")


def _instant(name: str, default: datetime, now: datetime) -> datetime:
    """An ISO 8601 datetime, or an ISO 8601 duration counted back from now."""
    text = _one(name)
    if text is None:
        return default
    match = _DURATION.match(text.strip())
    if match:
        weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        return now - timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes,
                               seconds=seconds)
    try:
        return parse_utc(text)
    except ValueError:
        raise InvalidParameter(f"{name}: expected an ISO 8601 datetime (2015-01-01T00:00:00Z) "
                               f"or duration (PT3H0M0S), got {text!r}") from None


def _filters() -> queries.Filters:
    ids = []
    for text in request.args.getlist("id"):
        try:
            ids.append(int(text))
        except ValueError:
            raise InvalidParameter(f"id: expected an integer, got {text!r}") from None
    return queries.Filters(keywords=[k for k in request.args.getlist("keyword") if k.strip()],
                           ids=ids, is_active=_bool("is_active"), is_system=_bool("is_system"))


def _paged(items: Sequence[Any], renderer: Callable[[Any], dict[str, Any]]) -> Response:
    number = _int("page", 1, 1, 1_000_000)
    size = _int("page_size", 100, 1, 1000)
    url = f"{http.base_url()}{request.path}"
    return json_response(render.page(items, renderer, number=number, size=size, url=url,
                                     args=_args()))


def _body() -> Any:
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise InvalidParameter("request body: expected a JSON object")
    return body


# -- reading -----------------------------------------------------------------------------------
@_route("/job-type-names/", methods=["GET"])
def names() -> Response:
    """Job type names, each with its versions and latest version."""
    filters, order = _filters(), request.args.getlist("order")
    with _db().read() as session:
        items = queries.list_names(session, filters, order)
        return _paged(items, render.name_summary)


@_route("/job-types/", methods=["GET"])
def list_types() -> Response:
    """Every job type version matching the filters."""
    filters, order = _filters(), request.args.getlist("order")
    with _db().read() as session:
        items = queries.list_types(session, filters, order)
        return _paged(items, render.summary)


@_route("/job-types/<name>/", methods=["GET"])
def versions(name: str) -> Response:
    """The versions of one job type, newest first."""
    is_active = _bool("is_active")
    with _db().read() as session:
        return _paged(queries.versions_of(session, name, is_active), render.summary)


@_route("/job-types/<name>/<version>/", methods=["GET"])
def details(name: str, version: str) -> Response:
    """One version with its current manifest and (masked) configuration."""
    with _db().read() as session:
        job_type = registry.get_version(session, name, version)
        return json_response(render.details(job_type,
                                            jobtypes.current_revision(session, job_type)))


@_route("/job-types/<name>/<version>/revisions/", methods=["GET"])
def revisions(name: str, version: str) -> Response:
    """The revisions of one version, newest first."""
    with _db().read() as session:
        job_type, items = queries.revisions_of(session, name, version)
        known = [t.version for t in reversed(queries.versions_of(session, name, None))]
        return _paged(items, lambda r: render.revision_doc(job_type, r, known, full=False))


@_route("/job-types/<name>/<version>/revisions/<int(signed=True):number>/", methods=["GET"])
def revision(name: str, version: str, number: int) -> Response:
    """One revision with its manifest."""
    with _db().read() as session:
        job_type, found = queries.revision_of(session, name, version, number)
        known = [t.version for t in reversed(queries.versions_of(session, name, None))]
        return json_response(render.revision_doc(job_type, found, known, full=True))


@_route("/job-types/status/", methods=["GET"])
def status() -> Response:
    """Job counts by status per job type version, within a time range."""
    now = utcnow()
    started = _instant("started", now - timedelta(hours=3), now)
    ended = _instant("ended", now, now)
    if started > ended:
        raise InvalidParameter("started: later than ended")
    is_active = _bool("is_active")
    with _db().read() as session:
        items = queries.status(session, started, ended, is_active)
        return _paged(items, lambda row: render.status_doc(*row))


@_route("/job-types/pending/", methods=["GET"])
def pending() -> Response:
    """Queued jobs per job type, the longest waiting first."""
    with _db().read() as session:
        return _paged(queries.pending(session), render.count_doc("longest_pending"))


@_route("/job-types/running/", methods=["GET"])
def running() -> Response:
    """Executing jobs per job type, the longest running first."""
    with _db().read() as session:
        return _paged(queries.running(session), render.count_doc("longest_running"))


@_route("/job-types/system-failures/", methods=["GET"])
def system_failures() -> Response:
    """Jobs that ended in ERROR for a system reason, per type and reason."""
    with _db().read() as session:
        return _paged(queries.system_failures(session), render.failure_doc)


# -- writing -----------------------------------------------------------------------------------
@_route("/job-types/validation/", methods=["POST"])
def validation() -> Response:
    """What registering this body would find wrong; saves nothing."""
    body = _body()
    with _db().read() as session:
        return json_response(registry.validate(session, body).as_dict())


@_route("/job-types/", methods=["POST"])
def create() -> Response:
    """Register a job type, a new version, or a new revision (201); or update one (200)."""
    body = _body()
    with _db().write() as session:
        job_type, created, _checked = registry.create(session, current_identity(), body)
        doc = render.details(job_type, jobtypes.current_revision(session, job_type))
    response = json_response(doc, 201 if created else 200)
    response.headers["Location"] = f"{http.base_url()}/v6/job-types/{doc['name']}/" \
                                   f"{doc['version']}/"
    return response


@_route("/job-types/<name>/<version>/", methods=["PATCH"])
def edit(name: str, version: str) -> Response:
    """Change a version's fields; a new manifest or image adds a revision."""
    body = _body()
    with _db().write() as session:
        checked = registry.edit(session, current_identity(), name, version, body)
    return json_response(checked.as_dict())


@bp.errorhandler(registry.InvalidJobType)
def _invalid(exc: registry.InvalidJobType) -> Response:
    return json_response({"detail": " ".join(exc.message.split()),
                          **exc.validation.as_dict()}, exc.status)


bp.after_app_request(detail_errors("/v6"))
