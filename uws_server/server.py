"""``uws-server serve``: gunicorn (one threaded worker) with the dispatcher inside it.

The embedded default runs everything in one command. Blocking ``WAIT``
requests each hold a thread, so the worker is gthread with many threads.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from .app import create_app
from .config import Settings
from .server_header import brand_gunicorn
from .wiring import bootstrap, build_components, build_dispatcher

log = logging.getLogger(__name__)


class _Embedded(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, threads: int) -> None:
        self.settings = settings
        self.threads = threads
        self.dispatcher: Any = None
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.settings.host}:{self.settings.port}")
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
    """Migrate, register job types, then serve until interrupted."""
    for line in bootstrap(settings):
        log.info("job type %s", line)
    log.info("uws-server on http://%s:%d/uws (data in %s)", settings.host, settings.port,
             settings.data_dir.resolve())
    brand_gunicorn()
    _Embedded(settings, threads).run()
    return 0
