"""Error responses: the right status and one line that says what was wrong.

Never a stack trace: unexpected exceptions are logged with their trace and
answered with a 500 whose body says only that, and where to look.
"""

from __future__ import annotations

import logging

from flask import Flask, Response
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
