"""``uws-server serve``: gunicorn (one threaded worker) with the dispatcher inside it.

The embedded default runs everything in one command. Blocking ``WAIT``
requests each hold a thread, so the worker is gthread with many threads:
:func:`worker_threads` gives it the threads ordinary requests need *plus* one
for every ``WAIT`` allowed to block (``UWS_MAX_WAITERS``), so that a crowd of
waiters never delays a plain GET; :mod:`uws_server.gunicorn_conf` sizes its
workers with the same functions. On SIGTERM the blocked waiters answer at
once with their job's current document (:func:`answer_waiters_on_stop`),
instead of holding the graceful stop and then being dropped.
The listening socket is bound first, before the database is touched, and
handed to gunicorn: a port in use stops ``serve`` with one line, nothing
migrated and no file created.
"""

from __future__ import annotations

import logging
import resource
import signal
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication

from .app import EXTENSION_KEY, create_app
from .config import Settings
from .logs import GunicornLogger
from .metrics import process_ended, use_multiprocess
from .server_header import brand_gunicorn
from .wiring import bootstrap, build_components, build_dispatcher

log = logging.getLogger(__name__)

#: gthread, answering gunicorn's own refusals (414, 431, bad framing) in the front door's shape.
WORKER_CLASS = "uws_server.gunicorn_worker.Worker"

#: gunicorn's default access-log line, then the request id (``-`` when none was answered).
ACCESS_LOG_FORMAT = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
                     '%({x-request-id}o)s')

#: Connections a worker takes beyond its threads: kept-alive ones, idle between requests.
SPARE_CONNECTIONS = 1000
#: Open files a worker needs beside its connections (database, logs, job files, sockets).
SPARE_FILES = 256


def worker_threads(settings: Settings, request_threads: int) -> int:
    """Threads of one gthread worker: ``request_threads`` that ordinary requests always find
    free, plus one for each ``WAIT`` that may block (``UWS_MAX_WAITERS``)."""
    return max(1, request_threads) + max(0, settings.max_waiters)


def worker_connections(threads: int) -> int:
    """Connections one worker accepts: every thread busy, and kept-alive ones besides.

    gunicorn stops accepting past this number, so it must exceed the threads:
    a thousand blocked waiters must not keep a new client in the listen backlog.
    """
    return threads + SPARE_CONNECTIONS


def raise_open_files(connections: int) -> None:
    """Raise this process's soft limit of open files (often 1,024) to what its connections
    need, within the hard limit; a lower hard limit is logged, not fatal."""
    needed = connections + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning("open files limited to %d (hard limit), %d wanted for %d connections: "
                    "lower UWS_MAX_WAITERS or raise the limit", target, needed, connections)


def answer_waiters_on_stop(worker: Any) -> None:
    """gunicorn ``post_worker_init``: on SIGTERM, blocked ``WAIT`` requests answer at once.

    gunicorn's graceful stop lets in-flight requests finish within the
    graceful timeout; a request blocked for up to ``UWS_MAX_WAIT`` seconds
    would hold the stop that long, then be dropped unanswered. Wrapping the
    worker's SIGTERM handler, the waiters are woken (each answers with its
    job's current document) and gunicorn's own handler then runs as before.
    The wake-up runs in a thread of its own: a signal handler must not wait
    for a lock.
    """
    parts = getattr(worker.wsgi, "extensions", {}).get(EXTENSION_KEY)
    if parts is None:
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        threading.Thread(target=parts.waiter.shutdown, name="answer-waiters",
                         daemon=True).start()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn has it: no EINTR in requests


def answer_waiters_now(worker: Any) -> None:
    """gunicorn ``worker_int``/``worker_exit``: the worker stops now; wake its waiters."""
    parts = getattr(getattr(worker, "wsgi", None), "extensions", {}).get(EXTENSION_KEY)
    if parts is not None:
        threading.Thread(target=parts.waiter.shutdown, name="answer-waiters",
                         daemon=True).start()


class CannotListen(Exception):
    """The address to serve on cannot be bound (in use, not ours, not allowed)."""


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` as gunicorn would (``SO_REUSEADDR``), or say why not.

    Raises
    ------
    CannotListen
        With a one-line message: ``cannot listen on 127.0.0.1:8080: address already in use``.
    """
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise CannotListen(f"cannot listen on {shown}: {_reason(exc)}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {shown}: {_reason(exc)}") from None
    sock.set_inheritable(True)
    return sock


def _reason(exc: BaseException) -> str:
    """``address already in use``: the system's message, in lower case, without its errno."""
    text = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
    return text[:1].lower() + text[1:]


class TLSFilesError(Exception):
    """``--certfile``/``--keyfile`` given alone, or naming files that cannot be read."""


@dataclass(frozen=True)
class TLSFiles:
    """The certificate and key gunicorn serves HTTPS with (its own TLS, no proxy needed)."""

    certfile: str
    keyfile: str


def tls_files(certfile: str | None, keyfile: str | None) -> TLSFiles | None:
    """The TLS files of ``serve``, checked before anything starts; ``None`` for plain HTTP.

    Raises
    ------
    TLSFilesError
        One without the other, an unreadable file, or a pair OpenSSL refuses.
    """
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise TLSFilesError("--certfile and --keyfile go together: give both for HTTPS")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise TLSFilesError(f"cannot use {certfile} and {keyfile} for TLS: "
                            f"{_reason(exc)}") from None
    return TLSFiles(certfile, keyfile)


class _Embedded(BaseApplication):
    def __init__(self, settings: Settings, threads: int, sock: socket.socket,
                 tls: TLSFiles | None = None) -> None:
        self.settings = settings
        self.threads = threads
        self.sock = sock
        self.tls = tls
        self.dispatcher: Any = None
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"fd://{self.sock.fileno()}")  # bound already, by listen()
        self.cfg.set("logger_class", GunicornLogger)
        self.cfg.set("workers", 1)
        self.cfg.set("worker_class", WORKER_CLASS)  # gthread, errors in the door's shape
        threads = worker_threads(self.settings, self.threads)
        self.cfg.set("threads", threads)
        self.cfg.set("worker_connections", worker_connections(threads))
        self.cfg.set("timeout", 120)
        self.cfg.set("graceful_timeout", 10)
        self.cfg.set("accesslog", "-")
        self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)
        self.cfg.set("child_exit", lambda _server, worker: process_ended(worker.pid))
        self.cfg.set("post_worker_init", self._start_dispatcher)
        self.cfg.set("worker_int", answer_waiters_now)
        self.cfg.set("worker_exit", self._stop_dispatcher)
        if self.tls is not None:
            self.cfg.set("certfile", self.tls.certfile)
            self.cfg.set("keyfile", self.tls.keyfile)

    def _start_dispatcher(self, worker: Any) -> None:
        answer_waiters_on_stop(worker)
        self.dispatcher = build_dispatcher(worker.app.components)
        self.dispatcher.start()

    def _stop_dispatcher(self, _server: Any, worker: Any) -> None:
        answer_waiters_now(worker)
        if self.dispatcher is not None:
            self.dispatcher.stop()

    def load(self) -> Any:
        self.components = build_components(self.settings)
        return create_app(self.settings, self.components)


def serve(settings: Settings, threads: int = 32, tls: TLSFiles | None = None) -> int:
    """Bind the port, migrate, register job types, then serve until interrupted
    (HTTPS with ``tls``: gunicorn's own TLS).

    ``threads`` are for ordinary requests; the worker has one more per ``WAIT``
    allowed to block (:func:`worker_threads`).

    Raises
    ------
    CannotListen
        Before anything else happened: no database migrated, no file created.
    """
    raise_open_files(worker_connections(worker_threads(settings, threads)))
    sock = listen(settings.host, settings.port)
    bootstrap(settings)  # logs each job type it registers
    log.info("uws-server on %s://%s:%d/uws (data in %s)", "https" if tls else "http",
             settings.host, settings.port, settings.data_dir.resolve())
    brand_gunicorn()
    use_multiprocess(settings, "web", fresh=True)  # the worker's metrics, in files
    _Embedded(settings, threads, sock, tls).run()
    return 0
