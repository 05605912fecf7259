"""The ``Server`` response header says ``uws-server/VERSION``, under gunicorn too.

gunicorn treats a ``Server`` header set by the application as hop-by-hop and
drops it, writing its own from the module constant ``gunicorn.http.wsgi.SERVER``.
Setting that constant, once per process before the first request, is the only
way to name the service there; other WSGI servers get the header from the app.
"""

from __future__ import annotations

from . import __version__

SERVER_HEADER = f"uws-server/{__version__}"


def brand_gunicorn() -> None:
    """Make gunicorn's own ``Server`` header name this service and its version."""
    import gunicorn.http.wsgi

    gunicorn.http.wsgi.SERVER = SERVER_HEADER
