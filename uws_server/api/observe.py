"""Every request's id and its counts: hooks around every blueprint, kept tiny.

Each request gets its id (:mod:`uws_server.requestid`) before anything else
runs, answers it in ``X-Request-ID``, and is counted in
:data:`~uws_server.metrics.HTTP_REQUESTS` and timed in
:data:`~uws_server.metrics.HTTP_SECONDS` by its route *template*
(``request.url_rule.rule``; ``<unmatched>`` for a 404 of no route), so the
label values stay bounded whatever paths clients try. The labelled children
are looked up once and kept in a dict: the per-request cost is a clock read,
a dict lookup and two additions.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, request

from .. import requestid
from ..metrics import HTTP_REQUESTS, HTTP_SECONDS

UNMATCHED = "<unmatched>"
_START = "uws.started"
_TOKEN = "uws.request_id_token"
_ID = "uws.request_id"

_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _metrics_of(route: str, method: str, status: int) -> tuple[Any, Any]:
    key = (route, method, status)
    found = _children.get(key)
    if found is None:
        found = (HTTP_REQUESTS.labels(route, method, str(status)),
                 HTTP_SECONDS.labels(route, method))
        _children[key] = found
    return found


def register(app: Flask) -> None:
    """Install the hooks: first before every other ``before_request``, last after."""

    def begin() -> None:
        environ = request.environ
        environ[_START] = time.perf_counter()
        rid = requestid.accept(environ.get("HTTP_X_REQUEST_ID"))
        environ[_ID] = rid
        environ[_TOKEN] = requestid.begin(rid)

    def finish(response: Response) -> Response:
        environ = request.environ
        rid = environ.get(_ID)
        if rid is not None:
            response.headers[requestid.HEADER] = rid
        started = environ.get(_START)
        if started is not None:
            rule = request.url_rule
            method = request.method if request.method in _METHODS else "OTHER"
            counter, histogram = _metrics_of(rule.rule if rule is not None else UNMATCHED,
                                             method, response.status_code)
            counter.inc()
            histogram.observe(time.perf_counter() - started)
        return response

    def teardown(_error: BaseException | None) -> None:
        token = request.environ.pop(_TOKEN, None)
        if token is not None:
            requestid.end(token)

    app.before_request_funcs.setdefault(None, []).insert(0, begin)
    app.after_request(finish)
    app.teardown_request(teardown)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
