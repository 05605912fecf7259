"""The OpenAPI 3.1 document of every front door, merged from one YAML fragment per door.

Why hand-written fragments and not a generator: the maintained generators that fit Flask
(apispec with its Flask plugin, flask-smorest, spectree) describe operations from
marshmallow or pydantic models of the bodies, and this service has none: every door parses
its parameters by hand (UWS's case-insensitive names from a query string, a form, a
multipart body or a JSON object; Scale's and OCPS's JSON) and renders its documents with
pure functions (``uws_server/render``). apispec's Flask plugin without schema models only
lifts YAML out of view docstrings, which is the same YAML in a worse place (mixed with the
numpydoc text, invisible to reviewers of the door's behaviour). So each door keeps its
description in ``uws_server/openapi/<door>.yaml`` next to its peers, this package merges
them, and ``tests/test_openapi.py`` keeps them true: a route of the URL map missing from the
document, a documented route that does not exist, or an ``operationId`` that is not the
Flask endpoint fails; schemathesis checks every answer of a live server against it.

What comes from code rather than YAML: the version (the package's), the security schemes
(the authenticator's Bearer and Basic challenges) and the error shapes of the doors
(:mod:`uws_server.api.errors`), see :mod:`.document`.
"""

from __future__ import annotations

from .document import (
    FRAGMENTS_DIR,
    FragmentConflict,
    build_document,
    document_etag,
    load_fragments,
)

__all__ = ["FRAGMENTS_DIR", "FragmentConflict", "build_document", "document_etag",
           "load_fragments"]
