"""Request parsing and response helpers shared by the blueprints.

UWS parameter names are case-insensitive (DALI §3.1) while Flask's
``request.args``/``request.form`` are not: everything goes through
:func:`request_params`, which keeps the client's spelling for job parameters
and lets callers match control names in upper case.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, cast

from flask import Response, current_app, g, request, send_file

from ..config import Settings
from ..errors import InvalidParameter, ResourceNotFound
from ..identity import Identity
from ..phases import ExecutionPhase
from ..storage import JobStorage
from ..wiring import Components

XML_TYPE = "application/xml; charset=utf-8"
JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"


def request_params(*, include_body: bool = True) -> list[tuple[str, str]]:
    """``(name, value)`` pairs from the query string and the body, in order.

    A JSON object body is accepted too: ``{"name": value}`` or
    ``{"name": [v1, v2]}``; non-string scalars are written as JSON text.
    """
    pairs = [(k, v) for k, vs in request.args.lists() for v in vs]
    if not include_body:
        return _without_nul(pairs)
    if request.mimetype == "application/json":
        body = json_body()
        if not isinstance(body, dict):
            raise InvalidParameter("request body: expected a JSON object of parameters")
        for name, value in body.items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((str(name), item if isinstance(item, str) else json.dumps(item)))
        return _without_nul(pairs)
    pairs += [(k, v) for k, vs in request.form.lists() for v in vs]
    return _without_nul(pairs)


def is_json_type(mimetype: str) -> bool:
    """``application/json`` or a ``+json`` type: never a type a cross-site form can send."""
    return mimetype == "application/json" or (mimetype.startswith("application/")
                                              and mimetype.endswith("+json"))


def json_body() -> Any:
    """The request body parsed as JSON (any media type; the edge guards check it first).

    Through :class:`~.bodies.StrictRequest` and :mod:`uws_server.safejson`: invalid
    UTF-8, malformed JSON, nesting deeper than ``safejson.MAX_DEPTH``, NUL characters
    and non-finite numbers are a 400 naming the problem, never a 500.
    """
    if not request.get_data(cache=True):
        raise InvalidParameter("request body: empty, expected JSON")
    return request.get_json(force=True)


def _without_nul(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Refuse NUL characters: no database text column can store them (PostgreSQL raises)."""
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise InvalidParameter(f"{name.replace(chr(0), '')}: contains a NUL character")
    return pairs


def uploads() -> dict[str, list[Any]]:
    """Multipart file parts by part name."""
    return {name: files for name, files in request.files.lists()}


def values_of(pairs: Sequence[tuple[str, str]], name: str) -> list[str]:
    """All values of a parameter, its name compared case-insensitively."""
    upper = name.upper()
    return [v for k, v in pairs if k.strip().upper() == upper]


def one_value(pairs: Sequence[tuple[str, str]], name: str, *, required: bool = True) -> str | None:
    """The single value of a parameter; 400 if missing (when required) or repeated."""
    found = values_of(pairs, name)
    if len(found) > 1:
        raise InvalidParameter(f"{name}: given {len(found)} times, expected once")
    if not found:
        if required:
            raise InvalidParameter(f"{name}: missing")
        return None
    return found[0]


def form_value(name: str) -> str:
    """The one value of a required parameter of a request (body or query string); 400 if
    it is missing or repeated. For the single-value resources (``PHASE=RUN``...)."""
    value = one_value(request_params(), name)
    assert value is not None  # required=True raised otherwise
    return value


def parse_int(name: str, text: str, low: int | None = None, high: int | None = None) -> int:
    """An integer (from ``low`` to ``high`` when given); 400 naming the parameter otherwise."""
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidParameter(f"{name}: expected an integer, got {text!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidParameter(f"{name}: must be from {low} to {high}, got {value}")
    return value


def int_value(pairs: Sequence[tuple[str, str]], name: str, *, default: int, low: int,
              high: int) -> int:
    """The single integer value of a parameter, ``default`` when absent."""
    text = one_value(pairs, name, required=False)
    return default if text is None else parse_int(name, text, low, high)


def bool_value(pairs: Sequence[tuple[str, str]], name: str) -> bool | None:
    """The single ``true``/``false`` (or ``1``/``0``, any case) value; ``None`` when absent."""
    text = one_value(pairs, name, required=False)
    if text is None:
        return None
    folded = text.strip().lower()
    if folded in {"true", "1"}:
        return True
    if folded in {"false", "0"}:
        return False
    raise InvalidParameter(f"{name}: expected true or false, got {text!r}")


def parse_phase(name: str, text: str) -> ExecutionPhase:
    """A phase name in any case (``PHASE=executing``); 400 naming the parameter otherwise."""
    try:
        return ExecutionPhase.parse(text)
    except ValueError as exc:
        raise InvalidParameter(f"{name}: {exc}") from None


def wants_json() -> bool:
    """JSON only when asked for explicitly: ``?format=json`` or ``Accept: application/json``.

    ``*/*`` and no Accept header get XML, the UWS default (§2.2.2).
    """
    fmt = next((v for k, v in request.args.items() if k.lower() == "format"), None)
    if fmt is not None:
        return fmt.lower() in {"json", "application/json"}
    accept = request.accept_mimetypes
    if not any(mime == "application/json" for mime, _q in accept):
        return False
    return accept.best_match(["application/xml", "application/json"]) == "application/json"


def xml_response(body: bytes, status: int = 200) -> Response:
    """A UWS XML document."""
    return Response(body, status=status, content_type=XML_TYPE)


def json_response(doc: Any, status: int = 200) -> Response:
    """A JSON document (compact, UTF-8)."""
    return Response(json.dumps(doc, separators=(",", ":"), ensure_ascii=False), status=status,
                    content_type=JSON_TYPE)


def text_response(text: str, status: int = 200) -> Response:
    """A ``text/plain`` value, without a trailing newline (UWS single-value resources)."""
    return Response(text, status=status, content_type=TEXT_TYPE)


def send_job_file(storage: JobStorage, job_id: str, relative: str, *,
                  mime_type: str | None, missing: str) -> Response:
    """Stream a regular file of a job's directory (a result, an uploaded input).

    ``relative`` may not leave the job's directory (``UnsafePath``, a 404);
    a file that is gone is a 404 saying ``missing``. Answers conditional
    requests (ETag, ``If-Modified-Since``) and ranges. The file is opened by
    :meth:`~uws_server.storage.JobStorage.open_file`, which follows no
    symlink: a job cannot make the service read a file outside its directory,
    even by swapping a path after it was checked.
    """
    try:
        handle = storage.open_file(job_id, relative)
    except FileNotFoundError:
        raise ResourceNotFound(missing) from None
    info = os.fstat(handle.fileno())
    response = send_file(handle, mimetype=mime_type or "application/octet-stream",
                         download_name=relative.rsplit("/", 1)[-1], conditional=False,
                         etag=f"{info.st_mtime_ns:x}-{info.st_size:x}",
                         last_modified=info.st_mtime)
    response.content_length = info.st_size
    # What a job wrote must never run as a page of this service's origin (the web
    # interface lives here): no script, no plug-in, no sniffing of another type.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Flask builds it with the app's response class: a flask Response, typed as Werkzeug's
    return cast(Response, response.make_conditional(request, accept_ranges=True,
                                                     complete_length=info.st_size))


def see_other(location: str) -> Response:
    """303 See Other to an absolute URL; never 302 (uws-client would re-POST)."""
    response = Response("", status=303, content_type=TEXT_TYPE)
    response.headers["Location"] = location
    return response


def components() -> Components:
    """This process's components (database, services, wake bus), set by ``create_app``."""
    parts: Components = current_app.extensions["uws"]
    return parts


def settings() -> Settings:
    """This process's settings."""
    return components().settings


def base_url() -> str:
    """The public root URL of the service, without a trailing slash."""
    configured = settings().base_url
    return (configured or request.host_url).rstrip("/")


def current_identity() -> Identity:
    """Who is calling (``auth.authenticator``), worked out once per request.

    Raises :class:`~uws_server.errors.NotAuthenticated` (401) for missing or bad
    credentials where they are required.
    """
    identity: Identity | None = g.get("uws_identity")
    if identity is None:
        identity = components().auth.identify(request.headers, request.remote_addr)
        g.uws_identity = identity
    return identity
