"""gunicorn settings for production.

Use: ``gunicorn -c python:uws_server.gunicorn_conf uws_server.wsgi:app``.

Threaded workers, because a blocking ``WAIT`` holds a thread for up to
``UWS_MAX_WAIT`` seconds. The master migrates the database and registers
job types once, before any worker starts.
"""

from __future__ import annotations

import os
from typing import Any

from uws_server.config import load_settings
from uws_server.server_header import brand_gunicorn
from uws_server.wiring import bootstrap

_settings = load_settings()
brand_gunicorn()

bind = os.environ.get("GUNICORN_BIND", f"{_settings.host}:{_settings.port}")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
timeout = 120
graceful_timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None


def on_starting(_server: Any) -> None:
    """Migrate and register job types once, in the master."""
    bootstrap(_settings)
