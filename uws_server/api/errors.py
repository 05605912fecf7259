"""Error responses: the right status and one line that says what was wrong.

One shape per front door, whatever produced the error (a service exception,
routing's 404, a 405 with its ``Allow`` header, a 413, a 500):

- ``/uws`` and everything outside the JSON doors (pyvo, curl, browsers): the
  line as ``text/plain``, or ``{"error": line, "status": code}`` when JSON was
  asked for (``Accept: application/json``, ``?format=json``), like every UWS
  resource;
- ``/v6`` (Scale) and ``/api/v1`` (OCPS, a FastAPI server): always
  ``{"detail": line}``, as Django REST framework and FastAPI answer. A door
  declares this with :func:`detail_door`;
- ``/jobs/v2`` (Agave): its envelope ``{"status": "error", "message": line,
  "version", "result": null}``. A door with a document of its own declares it
  with :func:`shaped_door`.

Never a stack trace: unexpected exceptions are logged with their trace and
answered with a 500 whose body says only that, and where to look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, has_request_context, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..auth.authenticator import CHALLENGES
from ..errors import NotAuthenticated, UWSError
from ..storage import UnsafePath
from .http import json_response, text_response, wants_json

log = logging.getLogger(__name__)


#: Where an app keeps the URL prefixes of its ``{"detail"}`` doors (see ``detail_door``).
_DETAIL_DOORS = "uws.detail_doors"


def detail_door(bp: Blueprint) -> None:
    """Declare that every error under ``bp``'s URL prefix answers ``{"detail": "line"}``.

    A prefix, not the blueprint, decides: routing's 404 and 405 belong to no
    blueprint, yet ``/v6/nothing`` must answer in the ``/v6`` shape.
    """
    def record(state: BlueprintSetupState) -> None:
        if state.url_prefix:
            state.app.extensions.setdefault(_DETAIL_DOORS, set()).add(state.url_prefix)

    bp.record(record)


#: Where an app keeps its shaped doors: URL prefix -> the function giving the error document.
_SHAPED_DOORS = "uws.shaped_doors"
#: An error document from the status, the one-line message and any extra fields.
ErrorShape = Callable[[int, str, Mapping[str, Any]], Any]


def shaped_door(bp: Blueprint, shape: ErrorShape) -> None:
    """Declare that every error under ``bp``'s URL prefix answers ``shape(status, line,
    extra)`` as JSON (``/jobs/v2``: Agave's envelope with ``"status": "error"``)."""
    def record(state: BlueprintSetupState) -> None:
        if state.url_prefix:
            state.app.extensions.setdefault(_SHAPED_DOORS, {})[state.url_prefix] = shape

    bp.record(record)


def _door_shape() -> ErrorShape | None:
    path = request.path
    for prefix, shape in current_app.extensions.get(_SHAPED_DOORS, {}).items():
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return cast(ErrorShape, shape)
    return None


def _in_detail_door() -> bool:
    path = request.path
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/")
               for prefix in current_app.extensions.get(_DETAIL_DOORS, ()))


def error_response(status: int, message: str, *,
                   extra: Mapping[str, Any] | None = None) -> Response:
    """The error in the shape of the request's front door (see the module docstring).

    ``extra`` fields join the JSON shapes (a rejected job type's validation);
    the text shape is the message alone.
    """
    line = " ".join(message.split())
    if not has_request_context():
        return text_response(line + "\n", status)
    if (shape := _door_shape()) is not None:
        return json_response(shape(status, line, extra or {}), status)
    if _in_detail_door():
        return json_response({"detail": line, **(extra or {})}, status)
    if wants_json():
        return json_response({"error": line, "status": status, **(extra or {})}, status)
    return text_response(line + "\n", status)


def register(app: Flask) -> None:
    """Install the handlers on the application."""

    @app.errorhandler(UWSError)
    def _uws_error(exc: UWSError) -> Response:
        response = error_response(exc.status, exc.message)
        if isinstance(exc, NotAuthenticated):
            for challenge in CHALLENGES:
                response.headers.add("WWW-Authenticate", challenge)
        return response

    @app.errorhandler(UnsafePath)
    def _unsafe_path(exc: UnsafePath) -> Response:
        return error_response(404, "no such resource")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_response(413, f"request body too large (the limit is {limit} bytes)")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        messages = {
            404: "no such resource",
            405: "method not allowed here",
            400: "malformed request",
        }
        message = messages.get(exc.code or 500, exc.name)
        if exc.code == 400 and exc.description and "browser" not in exc.description:
            message = f"malformed request: {exc.description}"
        response = error_response(exc.code or 500, message)
        for key, value in exc.get_headers():
            if key.lower() in {"allow", "www-authenticate"}:
                response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error")
        return error_response(500, "internal server error; the details are in the server log")
