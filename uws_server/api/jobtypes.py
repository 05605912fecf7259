"""The job-type registry over HTTP: Scale's v6 job-types API under ``/v6``.

Thin handlers: parse the query or body, call one :class:`RegistryService`
method, render. Every answer is JSON, errors too: ``{"detail": "one line"}``
with the status (see :func:`.errors.detail_door`), and for a rejected job type
also ``is_valid``, ``errors`` and ``warnings``. Routes have Scale's trailing
slashes and also answer without them (no redirect).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, request

from ..errors import InvalidParameter, ResourceNotFound
from ..jobtypes.queries import Filters
from ..jobtypes.registry import InvalidJobType, RegistryService
from ..render import jobtypes_json as render
from ..timeutil import parse_utc, utcnow
from . import http
from .errors import detail_door, error_response
from .http import bool_value, current_identity, int_value, json_response, one_value, values_of

bp = Blueprint("jobtypes", __name__, url_prefix="/v6")
detail_door(bp)

_INT32_MAX = 2**31 - 1  # ids and revision numbers are 32-bit integer columns
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


def _registry() -> RegistryService:
    return http.components().registry


# -- query parameters (names in any case, as everywhere in this service) ---------------------
def _args() -> list[tuple[str, str]]:
    return http.request_params(include_body=False)


def _instant(name: str, default: datetime, now: datetime) -> datetime:
    """An ISO 8601 datetime, or an ISO 8601 duration counted back from now."""
    text = one_value(_args(), name, required=False)
    if text is None:
        return default
    match = _DURATION.match(text.strip())
    if match:
        weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        try:
            return now - timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes,
                                   seconds=seconds)
        except OverflowError:  # P5000000W: before year 1
            raise InvalidParameter(f"{name}: the duration {text[:80]!r} reaches back before "
                                   "year 1") from None
    try:
        return parse_utc(text)
    except ValueError:
        raise InvalidParameter(f"{name}: expected an ISO 8601 datetime (2015-01-01T00:00:00Z) "
                               f"or duration (PT3H0M0S), got {text!r}") from None


def _filters() -> Filters:
    args = _args()
    return Filters(keywords=[k for k in values_of(args, "keyword") if k.strip()],
                   ids=[http.parse_int("id", text, 1, _INT32_MAX)
                        for text in values_of(args, "id")],
                   is_active=bool_value(args, "is_active"), is_system=bool_value(args, "is_system"))


def _order() -> list[str]:
    return values_of(_args(), "order")


def _paged(items: Sequence[Any], renderer: Callable[[Any], dict[str, Any]]) -> Response:
    args = _args()
    number = int_value(args, "page", default=1, low=1, high=1_000_000)
    size = int_value(args, "page_size", default=100, low=1, high=1000)
    url = f"{http.base_url()}{request.path}"
    return json_response(render.page(items, renderer, number=number, size=size, url=url,
                                     args=args))


def _body() -> Any:
    body = http.json_body()  # 400 for malformed, deep, NUL-holding or non-UTF-8 JSON
    if body is None:
        raise InvalidParameter("request body: expected a JSON object")
    return body


# -- reading -----------------------------------------------------------------------------------
@_route("/job-type-names/", methods=["GET"])
def names() -> Response:
    """Job type names, each with its versions and latest version."""
    return _paged(_registry().names(_filters(), _order()), render.name_summary)


@_route("/job-types/", methods=["GET"])
def list_types() -> Response:
    """Every job type version matching the filters."""
    return _paged(_registry().types(_filters(), _order()), render.summary)


@_route("/job-types/<name>/", methods=["GET"])
def versions(name: str) -> Response:
    """The versions of one job type, newest first."""
    return _paged(_registry().versions(name, bool_value(_args(), "is_active")), render.summary)


@_route("/job-types/<name>/<version>/", methods=["GET"])
def details(name: str, version: str) -> Response:
    """One version with its current manifest and (masked) configuration."""
    return json_response(render.details(*_registry().details(name, version)))


@_route("/job-types/<name>/<version>/revisions/", methods=["GET"])
def revisions(name: str, version: str) -> Response:
    """The revisions of one version, newest first."""
    found = _registry().revisions(name, version)
    return _paged(found.items, lambda r: render.revision_doc(found.job_type, r, found.versions,
                                                             full=False))


@_route("/job-types/<name>/<version>/revisions/<int(signed=True):number>/", methods=["GET"])
def revision(name: str, version: str, number: int) -> Response:
    """One revision with its manifest."""
    if not -_INT32_MAX - 1 <= number <= _INT32_MAX:  # none can exist; SQL would overflow
        _registry().details(name, version)  # an unknown name or version is named first
        raise ResourceNotFound(f"job type {name} {version} has no revision {number}")
    found = _registry().revision(name, version, number)
    return json_response(render.revision_doc(found.job_type, found.items[0], found.versions,
                                             full=True))


@_route("/job-types/status/", methods=["GET"])
def status() -> Response:
    """Job counts by status per job type version, within a time range."""
    now = utcnow()
    started = _instant("started", now - timedelta(hours=3), now)
    ended = _instant("ended", now, now)
    if started > ended:
        raise InvalidParameter("started: later than ended")
    items = _registry().status(current_identity(), started, ended, bool_value(_args(), "is_active"))
    return _paged(items, lambda row: render.status_doc(*row))


@_route("/job-types/pending/", methods=["GET"])
def pending() -> Response:
    """Queued jobs per job type, the longest waiting first."""
    return _paged(_registry().pending(current_identity()), render.count_doc("longest_pending"))


@_route("/job-types/running/", methods=["GET"])
def running() -> Response:
    """Executing jobs per job type, the longest running first."""
    return _paged(_registry().running(current_identity()), render.count_doc("longest_running"))


@_route("/job-types/system-failures/", methods=["GET"])
def system_failures() -> Response:
    """Jobs that ended in ERROR for a system reason, per type and reason."""
    return _paged(_registry().system_failures(current_identity()), render.failure_doc)


# -- writing -----------------------------------------------------------------------------------
@_route("/job-types/validation/", methods=["POST"])
def validation() -> Response:
    """What registering this body would find wrong; saves nothing."""
    return json_response(_registry().validate(_body()).as_dict())


@_route("/job-types/", methods=["POST"])
def create() -> Response:
    """Register a job type, a new version, or a new revision (201); or update one (200)."""
    done = _registry().create(current_identity(), _body())
    doc = render.details(done.job_type, done.revision)
    response = json_response(doc, 201 if done.created else 200)
    response.headers["Location"] = f"{http.base_url()}/v6/job-types/{doc['name']}/" \
                                   f"{doc['version']}/"
    return response


@_route("/job-types/<name>/<version>/", methods=["PATCH"])
def edit(name: str, version: str) -> Response:
    """Change a version's fields; a new manifest or image adds a revision."""
    body = _body()
    return json_response(_registry().edit(current_identity(), name, version, body).as_dict())


@bp.errorhandler(InvalidJobType)
def _invalid(exc: InvalidJobType) -> Response:
    """The one-line ``detail`` and the whole validation (``is_valid``, ``errors``...)."""
    return error_response(exc.status, exc.message, extra=exc.validation.as_dict())
