"""gunicorn settings for production.

Use: ``gunicorn -c python:uws_server.gunicorn_conf uws_server.wsgi:app``.

Threaded workers, because a blocking ``WAIT`` holds a thread for up to
``UWS_MAX_WAIT`` seconds: each worker has ``GUNICORN_THREADS`` threads for
ordinary requests plus one per ``WAIT`` allowed to block (``UWS_MAX_WAITERS``),
sized by the same functions as ``uws-server serve``, and on SIGTERM its
blocked waiters answer at once. The master migrates the database and registers
job types once, after it is listening (a port in use migrates nothing) and
before any worker starts. Metrics are kept per process in files under the run
directory (``PROMETHEUS_MULTIPROC_DIR``, emptied here) and summed by
``/metrics``. Logging is the service's (``UWS_LOG_LEVEL``, ``UWS_LOG_FORMAT``),
gunicorn's own lines included, each access line ending with the request id; a bad setting stops
gunicorn with one line and exit code 2.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from uws_server.config import ConfigError, load_settings
from uws_server.logs import GunicornLogger, configure_logging
from uws_server.metrics import process_ended, use_multiprocess
from uws_server.server import (
    ACCESS_LOG_FORMAT,
    WORKER_CLASS,
    answer_waiters_now,
    answer_waiters_on_stop,
    raise_open_files,
    worker_threads,
)
from uws_server.server import worker_connections as connections_for
from uws_server.server_header import brand_gunicorn
from uws_server.wiring import bootstrap

try:
    _settings = load_settings()
except ConfigError as exc:
    print(f"uws-server: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
configure_logging(_settings)
brand_gunicorn()
use_multiprocess(_settings, "web", fresh=True)  # the workers' metrics, summed by /metrics

bind = os.environ.get("GUNICORN_BIND", f"{_settings.host}:{_settings.port}")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = WORKER_CLASS  # gthread, answering its own refusals in the front door's shape
threads = worker_threads(_settings, int(os.environ.get("GUNICORN_THREADS", "32")))
worker_connections = connections_for(threads)
raise_open_files(worker_connections)  # in the master: the workers inherit it
post_worker_init = answer_waiters_on_stop
worker_int = answer_waiters_now
timeout = 120
graceful_timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
access_log_format = ACCESS_LOG_FORMAT  # gunicorn's default and the request id
logger_class = GunicornLogger
loglevel = _settings.log_level.lower()


def when_ready(_server: Any) -> None:
    """Migrate and register job types once, in the master, once it is listening."""
    bootstrap(_settings)


def child_exit(_server: Any, worker: Any) -> None:
    """A worker ended: its live gauges (blocked WAITs) stop counting in ``/metrics``."""
    process_ended(worker.pid)
