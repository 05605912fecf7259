"""The WSGI entry point for production serving: ``gunicorn uws_server.wsgi:app``.

Run the migrations and job-type registration once beforehand (``uws-server
db upgrade``, or the ``on_starting`` hook of ``uws_server.gunicorn_conf``),
and the dispatcher as its own process (``uws-server worker``).
"""

from __future__ import annotations

from .app import create_app

app = create_app()
