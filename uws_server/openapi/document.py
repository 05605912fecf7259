"""Build the one OpenAPI 3.1 document from the fragments of ``uws_server/openapi/*.yaml``.

A fragment holds top-level ``paths`` and, optionally, ``components`` (each section a
mapping of names). Fragments may refer to what this module provides for every door:

- ``#/components/securitySchemes/bearerToken`` and ``basicToken`` (the token as the
  password), which are also the document's default ``security``;
- the error shapes of :mod:`uws_server.api.errors`, as ready responses:
  ``#/components/responses/UwsError400`` (the UWS door and everything outside the JSON
  doors: ``text/plain`` one line, or ``{"error", "status"}`` when JSON was asked for) and
  ``#/components/responses/DetailError400`` (``/v6``, ``/api/v1``: ``{"detail"}``), for
  every status in :data:`ERROR_STATUSES`; their schemas are ``UwsErrorJSON`` and
  ``DetailError``.

Every operation also gets a 414 (:data:`HTTP_SERVER_RESPONSES`): the HTTP server (gunicorn)
answers it, before the application sees the request, for a request line longer than it
reads, whatever the door.

Two fragments naming the same path, or the same component, are a
:class:`FragmentConflict` when the document is built: the service refuses to start with
an ambiguous description rather than keep whichever came last.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .. import __version__

#: Where the fragments are: beside this module, shipped as package data.
FRAGMENTS_DIR = Path(__file__).resolve().parent

#: The error statuses a door can answer, with what each one means here.
ERROR_STATUSES: dict[int, str] = {
    400: "The request is malformed or a parameter is invalid; the line says which.",
    401: "Credentials are required (or were refused); see the WWW-Authenticate challenges.",
    403: "The caller may not do this, or the job's phase does not allow it.",
    404: "No such job, job type or resource (or one the caller may not see).",
    409: "The request conflicts with the state of the resource.",
    413: "The request body is larger than the service accepts.",
    415: "The request body has a media type this resource does not take.",
    429: "A quota of the caller is exhausted.",
}

#: Answers of the HTTP server in front of the app, possible on every operation (added to
#: each one that does not describe the status itself); no body of the service's.
HTTP_SERVER_RESPONSES: dict[str, dict[str, Any]] = {
    "414": {"description": "The request line (path and query string) is longer than the "
                           "HTTP server reads (gunicorn: 4094 bytes); answered before the "
                           "service sees the request."},
}

DESCRIPTION = """\
uws-server keeps every job durable in a database, runs it on a local process pool, an
HTCondor pool or a Slurm cluster, and serves it through several front doors:

- **UWS 1.1** (`/uws/{jobtype}/...`): the IVOA Universal Worker Service binding. Its XML
  documents are those of the UWS 1.1 XML schema (each response names the element and the
  schema in `x-xsd`); every document also comes as JSON with `Accept: application/json`
  or `?format=json`. Parameter names are case-insensitive (DALI).
- **OCPS v1** (`/api/v1/job...`): the Rubin OCPS job manager's JSON dialect.
- **Scale v6 job types** (`/v6/job-types/...`): the job-type registry.

Authenticate with `Authorization: Bearer TOKEN`, or HTTP Basic with the token as the
password (`uws-server token create`). A service without users (the embedded default on
loopback) serves anonymous callers.
"""


_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


#: libyaml's safe loader when PyYAML has it (ten times faster), else the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FragmentConflict(ValueError):
    """Two fragments describe the same path or component, or a fragment is malformed."""


def _error_components() -> dict[str, dict[str, Any]]:
    """The shared schemas and responses of the error shapes (see ``api/errors.py``)."""
    schemas: dict[str, Any] = {
        "UwsErrorJSON": {
            "type": "object",
            "description": "An error of the UWS door when JSON was asked for.",
            "required": ["error", "status"],
            "properties": {"error": {"type": "string", "description": "What was wrong."},
                           "status": {"type": "integer", "description": "The HTTP status."}},
        },
        "UwsErrorText": {"type": "string", "description": "One line saying what was wrong."},
        "DetailError": {
            "type": "object",
            "description": "An error of the JSON doors, as FastAPI and Django REST framework "
                           "answer.",
            "required": ["detail"],
            "properties": {"detail": {"type": "string", "description": "What was wrong."}},
        },
    }
    challenge = {"WWW-Authenticate": {
        "description": "The schemes accepted: Bearer and Basic (realm uws-server).",
        "schema": {"type": "string"}}}
    responses: dict[str, Any] = {}
    for status, meaning in ERROR_STATUSES.items():
        headers = {"headers": challenge} if status == 401 else {}
        responses[f"UwsError{status}"] = {
            "description": meaning,
            **headers,
            "content": {
                "text/plain": {"schema": {"$ref": "#/components/schemas/UwsErrorText"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/UwsErrorJSON"}},
            },
        }
        responses[f"DetailError{status}"] = {
            "description": meaning,
            **headers,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/DetailError"}}},
        }
    return {"schemas": schemas, "responses": responses}


def _security_schemes() -> dict[str, Any]:
    """The authenticator's two schemes (``auth/authenticator.py``)."""
    return {
        "bearerToken": {"type": "http", "scheme": "bearer",
                        "description": "An API token: `uws-server token create USER`."},
        "basicToken": {"type": "http", "scheme": "basic",
                       "description": "HTTP Basic with the token as the password; the user "
                                      "name, when given, must be the token's owner."},
    }


def load_fragments(directory: Path = FRAGMENTS_DIR) -> list[tuple[str, dict[str, Any]]]:
    """Every ``*.yaml`` fragment of ``directory``, by file name, parsed."""
    found = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        except yaml.YAMLError as exc:
            raise FragmentConflict(f"{path.name}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise FragmentConflict(f"{path.name}: expected a mapping at the top")
        unknown = set(data) - {"paths", "components"}
        if unknown:
            raise FragmentConflict(f"{path.name}: unknown top-level keys {sorted(unknown)} "
                                   "(a fragment has only paths and components)")
        found.append((path.name, data))
    return found


def _merge_into(target: dict[str, Any], owners: dict[str, str], items: Any, *, what: str,
                source: str) -> None:
    if items is None:
        return
    if not isinstance(items, dict):
        raise FragmentConflict(f"{source}: {what} must be a mapping")
    for name, value in items.items():
        if name in target:
            raise FragmentConflict(f"{source}: {what} {name!r} is already described by "
                                   f"{owners.get(name, 'the shared components')}")
        target[name] = value
        owners[name] = source


def build_document(fragments: Iterable[tuple[str, dict[str, Any]]] | None = None, *,
                   server_url: str = "/") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document: shared parts plus every fragment, merged.

    Parameters
    ----------
    fragments
        ``(source name, fragment)`` pairs; by default those of :data:`FRAGMENTS_DIR`.
    server_url
        The ``servers`` entry: ``/`` (relative to where the document is served) unless the
        service has a public ``base_url``.

    Raises
    ------
    FragmentConflict
        When two fragments (or a fragment and the shared components) name the same path
        or component.
    """
    shared = _error_components()
    components: dict[str, dict[str, Any]] = {
        "securitySchemes": _security_schemes(), **shared}
    owners: dict[str, dict[str, str]] = {}
    paths: dict[str, Any] = {}
    path_owners: dict[str, str] = {}
    loaded = load_fragments() if fragments is None else copy.deepcopy(list(fragments))
    for source, fragment in loaded:
        _merge_into(paths, path_owners, fragment.get("paths"), what="path", source=source)
        extra = fragment.get("components") or {}
        if not isinstance(extra, dict):
            raise FragmentConflict(f"{source}: components must be a mapping")
        for section, items in extra.items():
            _merge_into(components.setdefault(section, {}), owners.setdefault(section, {}),
                        items, what=f"component {section}", source=source)
    for item in paths.values():
        for method, operation in item.items():
            if method in _METHODS and isinstance(operation, dict):
                responses = operation.setdefault("responses", {})
                for status, response in HTTP_SERVER_RESPONSES.items():
                    responses.setdefault(status, dict(response))
    return {
        "openapi": "3.1.0",
        "info": {"title": "uws-server", "version": __version__, "description": DESCRIPTION,
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": server_url}],
        "security": [{"bearerToken": []}, {"basicToken": []}, {}],
        "paths": dict(sorted(paths.items())),
        "components": components,
    }


def document_etag(document: dict[str, Any]) -> str:
    """A strong validator of the document's content (its canonical JSON, hashed)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
