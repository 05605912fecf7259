"""``uws-server serve``: gunicorn (one threaded worker) with the dispatcher inside it.

The embedded default runs everything in one command. Blocking ``WAIT``
requests each hold a thread, so the worker is gthread with many threads.
The listening socket is bound first, before the database is touched, and
handed to gunicorn: a port in use stops ``serve`` with one line, nothing
migrated and no file created.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from gunicorn.app.base import BaseApplication

from .app import create_app
from .config import Settings
from .logs import GunicornLogger
from .server_header import brand_gunicorn
from .wiring import bootstrap, build_components, build_dispatcher

log = logging.getLogger(__name__)


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


class _Embedded(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, threads: int, sock: socket.socket) -> None:
        self.settings = settings
        self.threads = threads
        self.sock = sock
        self.dispatcher: Any = None
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"fd://{self.sock.fileno()}")  # bound already, by listen()
        self.cfg.set("logger_class", GunicornLogger)
        self.cfg.set("workers", 1)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", self.threads)
        self.cfg.set("timeout", 120)
        self.cfg.set("graceful_timeout", 10)
        self.cfg.set("accesslog", "-")
        self.cfg.set("post_worker_init", self._start_dispatcher)
        self.cfg.set("worker_exit", self._stop_dispatcher)

    def _start_dispatcher(self, worker: Any) -> None:
        self.dispatcher = build_dispatcher(worker.app.components)
        self.dispatcher.start()

    def _stop_dispatcher(self, _server: Any, _worker: Any) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()

    def load(self) -> Any:
        self.components = build_components(self.settings)
        return create_app(self.settings, self.components)


def serve(settings: Settings, threads: int = 32) -> int:
    """Bind the port, migrate, register job types, then serve until interrupted.

    Raises
    ------
    CannotListen
        Before anything else happened: no database migrated, no file created.
    """
    sock = listen(settings.host, settings.port)
    bootstrap(settings)  # logs each job type it registers
    log.info("uws-server on http://%s:%d/uws (data in %s)", settings.host, settings.port,
             settings.data_dir.resolve())
    brand_gunicorn()
    _Embedded(settings, threads, sock).run()
    return 0
