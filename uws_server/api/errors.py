"""Error responses: the right status and one line that says what was wrong.

Never a stack trace: unexpected exceptions are logged with their trace and
answered with a 500 whose body says only that, and where to look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..errors import UWSError
from ..storage import UnsafePath
from .http import json_response, text_response, wants_json

log = logging.getLogger(__name__)


def error_response(status: int, message: str) -> Response:
    """One line of text (or ``{"error", "status"}`` when JSON was asked for)."""
    line = " ".join(message.split())
    try:
        as_json = wants_json()
    except Exception:  # before a request context exists
        as_json = False
    if as_json:
        return json_response({"error": line, "status": status}, status)
    return text_response(line + "\n", status)


def detail_errors(prefix: str) -> Callable[[Response], Response]:
    """An after-request hook turning every error under ``prefix`` into ``{"detail": ...}``.

    The JSON front doors that follow Scale's and OCPS's style (``/v6``,
    ``/api/v1``) answer errors that way, whatever produced them (a service
    exception, a 404 from routing, a 405 with its ``Allow`` header).
    """

    def convert(response: Response) -> Response:
        if not request.path.startswith(prefix) or response.status_code < 400:
            return response
        if response.mimetype == "application/json":
            doc = response.get_json(silent=True)
            if not isinstance(doc, dict) or "detail" in doc or "error" not in doc:
                return response
            detail = str(doc["error"])
        else:
            detail = " ".join(response.get_data(as_text=True).split()) or response.status
        converted = json_response({"detail": detail}, response.status_code)
        for key in ("Allow", "WWW-Authenticate"):
            if key in response.headers:
                converted.headers[key] = response.headers[key]
        return converted

    return convert


def register(app: Flask) -> None:
    """Install the handlers on the application."""

    @app.errorhandler(UWSError)
    def _uws_error(exc: UWSError) -> Response:
        return error_response(exc.status, exc.message)

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
            if key.lower() == "allow":
                response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error")
        return error_response(500, "internal server error; the details are in the server log")
