"""gunicorn's threaded worker, answering the requests gunicorn refuses in the front door's shape.

gunicorn refuses some requests before the application sees them: a request
line over ``limit_request_line`` (414), headers over ``limit_request_fields``
or ``limit_request_field_size`` (431), a bad ``Content-Length``, bad chunked
framing, a malformed request line (400)... and answers each with an HTML page.
:class:`Worker` keeps gunicorn's choice of status, its logging and its access
log line, and writes instead the body the front door documents:
:func:`uws_server.api.errors.error_response` rendered for the request's path
(``{"detail": ...}`` under ``/v6`` and ``/api/v1``, one line of text
elsewhere). When even the path could not be read, it is recovered from what
gunicorn had read of the request line; failing that, the answer is text.

It also closes ``Connection: close`` sockets without blocking its event loop
(:mod:`uws_server.lingering`): gthread's own close waits up to 2 s per client
on that loop, so a few idle clients stalled every request.

Used by ``uws-server serve`` and ``uws_server.gunicorn_conf`` (``worker_class``).
"""

from __future__ import annotations

import contextlib
import re
import socket
from functools import partial
from typing import Any

from gunicorn import util
from gunicorn.http.message import Request as GunicornRequest
from gunicorn.workers.gthread import ThreadWorker

from .lingering import Closer
from .server_header import SERVER_HEADER

_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ([^\r\n]*)\r\n")
_REQUEST_START = re.compile(rb"^[A-Z]{1,20} (/[^ ?#\r\n]*)")


class _Capture:
    """A stand-in for the client socket that keeps what gunicorn would write to it."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, _flag: bool) -> None:
        """Nothing to change: nothing is sent."""

    def sendall(self, data: bytes) -> None:
        self.data += data

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)


def path_of(req: Any, exc: BaseException) -> str | None:
    """The path of a request gunicorn failed on, as far as it was read.

    From the request object (``req``, or the one an ``InvalidHeader`` carries),
    else from the frames that raised: the gunicorn request being parsed, or the
    bytes of a request line too long to finish.
    """
    for candidate in (req, getattr(exc, "req", None)):
        path = getattr(candidate, "path", None)
        if isinstance(path, str):
            return path
    tb = exc.__traceback__
    while tb is not None:
        local = tb.tb_frame.f_locals
        owner = local.get("self")
        if isinstance(owner, GunicornRequest) and isinstance(owner.path, str):
            return owner.path
        for name in ("data", "buf"):
            value = local.get(name)
            if isinstance(value, bytes | bytearray) and (found := _REQUEST_START.match(value)):
                return found.group(1).decode("latin-1")
        tb = tb.tb_next
    return None


class Worker(ThreadWorker):
    """gthread, with gunicorn's own refusals in the service's error shapes."""

    _closer: Closer | None = None

    def handle(self, conn: Any) -> Any:
        """gthread's, then the FIN of a connection that ends, sent from this request thread.

        gthread closes such a connection on its event loop, which a crowd of threads
        answering at once (blocked ``WAIT`` requests woken together) keeps waiting for the
        interpreter lock: a client reading to the end of the stream saw its answer only
        when the loop got there. The loop's own close (:meth:`_close_connection`) follows.
        """
        result = super().handle(conn)
        if result is False:
            with contextlib.suppress(OSError, AttributeError):
                conn.sock.shutdown(socket.SHUT_WR)
        return result

    def finish_request(self, conn: Any, fs: Any) -> None:
        """gthread's, but a graceful close is handed to the :class:`Closer` (never blocks)."""
        conn.close = partial(self._close_connection, conn)
        super().finish_request(conn, fs)

    def _close_connection(self, conn: Any, graceful: bool = False) -> None:
        if not graceful:
            util.close(conn.sock)
            return
        if self._closer is None:  # made in the worker process, on first use
            self._closer = Closer()
        self._closer.close(conn.sock)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Let gunicorn log and choose the status; write the front door's body instead."""
        capture = _Capture()
        super().handle_error(req, capture, addr, exc)
        found = _STATUS_LINE.match(capture.data)
        status, reason = (int(found.group(1)), found.group(2).decode("latin-1")) if found \
            else (500, "Internal Server Error")
        try:
            util.write_nonblock(client, self._answer(status, reason, path_of(req, exc), exc))
        except Exception:
            self.log.debug("Failed to send error message.")

    def _message(self, status: int, reason: str, exc: BaseException) -> str:
        if status >= 500 and status != 501:
            return "internal server error; the details are in the server log"
        if status == 414:
            return (f"request line too long: at most {self.cfg.limit_request_line} bytes "
                    "(method, URL and protocol)")
        if status == 431:
            return (f"request headers too large: at most {self.cfg.limit_request_fields} "
                    f"fields of {self.cfg.limit_request_field_size} bytes each")
        detail = " ".join(str(exc).split())[:200]
        prefix = "malformed request" if status == 400 else reason.lower()
        return f"{prefix}: {detail}" if detail else prefix

    def _answer(self, status: int, reason: str, path: str | None, exc: BaseException) -> bytes:
        message = self._message(status, reason, exc)
        content_type, body = "text/plain; charset=utf-8", (message + "\n").encode("utf-8")
        app = self.wsgi
        if hasattr(app, "test_request_context"):  # the Flask app: its front door's shape
            try:
                from .api.errors import error_response

                with app.test_request_context(path if path and path.startswith("/") else "/"):
                    response = error_response(status, message)
                    content_type, body = response.content_type, response.get_data()
            except Exception:  # a path Werkzeug cannot build a request for: text, as above
                self.log.debug("error page for %r rendered as text", path)
        head = (f"HTTP/1.1 {status} {reason}\r\nServer: {SERVER_HEADER}\r\n"
                f"Connection: close\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode("latin-1") + body
