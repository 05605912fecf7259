"""The service's own description: ``/openapi.json`` and the browsable ``/docs``.

The document is built once per process from the fragments (:mod:`uws_server.openapi`) and
answered with a strong ``ETag``, so a client that revalidates gets a 304. ``/docs`` is
Swagger UI from the ``flask-swagger-ui`` package, which ships the assets: the page and the
scripts come from this service, nothing from a CDN. All of it is public: it shows nothing
about jobs.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from flask import Blueprint, Response, request, send_from_directory, url_for

from ..openapi import FRAGMENTS_DIR, build_document, document_etag
from . import http

bp = Blueprint("openapi", __name__)

#: The page's own start-up script, beside the fragments.
INITIALIZER = "swagger-init.js"


def _swagger_dist() -> Path:
    """The Swagger UI assets that ``flask-swagger-ui`` ships (``dist/``)."""
    import flask_swagger_ui

    return Path(flask_swagger_ui.__file__).resolve().parent / "dist"


@cache
def _served(server_url: str) -> tuple[bytes, str]:
    """The document as JSON bytes and its ETag, built once per ``servers`` URL."""
    document = build_document(server_url=server_url)
    return json.dumps(document, indent=1).encode(), document_etag(document)


def _server_url() -> str:
    """``/`` (relative), or the public ``base_url`` when the service sits behind a proxy."""
    base = http.settings().base_url.rstrip("/")
    return base if base and urlsplit(base).scheme else "/"


def check_document(server_url: str = "/") -> None:
    """Build the document now: a conflict between fragments stops the app at start-up."""
    _served(server_url)


@bp.get("/openapi.json")
def spec() -> Response:
    """The OpenAPI 3.1 document of every front door."""
    body, etag = _served(_server_url())
    response = Response(body, content_type="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"  # revalidate: cheap with the ETag
    response.make_conditional(request)  # 304 when If-None-Match has the ETag
    return response


@bp.get("/docs")
def docs() -> Response:
    """Swagger UI over ``/openapi.json``, every asset served from here."""
    initializer = url_for("openapi.docs_asset", name=INITIALIZER)
    assets = initializer.rsplit("/", 1)[0]
    page = Template((FRAGMENTS_DIR / "swagger.html").read_text(encoding="utf-8")).substitute(
        assets=assets, spec=url_for("openapi.spec"),
        initializer=initializer)
    return Response(page, content_type="text/html; charset=utf-8")


@bp.get("/docs/assets/<path:name>")
def docs_asset(name: str) -> Response:
    """One file of Swagger UI (or the page's initializer); 404 for anything else."""
    directory = FRAGMENTS_DIR if name == INITIALIZER else _swagger_dist()
    return send_from_directory(directory, name, max_age=86400)
