"""The WSGI entry point for production serving: ``gunicorn uws_server.wsgi:app``.

Run the migrations and job-type registration once beforehand (``uws-server
db upgrade``, or the ``when_ready`` hook of ``uws_server.gunicorn_conf``),
and the dispatcher as its own process (``uws-server worker``). Logging is set
up here too, for WSGI servers other than gunicorn with its configuration.
"""

from __future__ import annotations

import sys

from .app import create_app
from .config import ConfigError, load_settings
from .logs import configure_logging

try:
    _settings = load_settings()
except ConfigError as exc:
    print(f"uws-server: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
configure_logging(_settings)
app = create_app(_settings)
