"""Fixtures and helpers of the job-type registry tests (``/v6``).

Live-server tests share the session ``server`` with other suites, so every job
type registered here is called ``reg-...`` and the example types are never
changed. In-process tests (``components``) drive the dispatcher with a fake
executor and reach the registry through the Flask test client.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import requests

REFERENCE = Path(__file__).resolve().parent / "data"
DOC_001 = REFERENCE / "001_a37f18e949994f6f.txt"
DOC_002 = REFERENCE / "002_f271b097f9c97fd3.txt"


def unique(prefix: str) -> str:
    """A job type name no other test uses."""
    return f"reg-{prefix}-{uuid.uuid4().hex[:8]}"


def manifest(name: str, version: str = "1.0.0", *, command: str | None = None,
             tags: tuple[str, ...] = ("registry",), settings: list[dict[str, Any]] | None = None,
             title: str | None = None, inputs: list[dict[str, Any]] | None = None,
             **job: Any) -> dict[str, Any]:
    """A small valid Seed manifest: an echo of ``message`` unless ``command`` says otherwise."""
    interface: dict[str, Any] = {
        "command": command or "${PYTHON} -m uws_server.programs.echo ${OUTPUT_DIR}/result.txt "
                              "${message}",
        "inputs": {"json": inputs if inputs is not None
                   else [{"name": "message", "type": "string", "required": True}]},
        "outputs": {"files": [{"name": "result", "mediaType": "text/plain",
                               "pattern": "result.txt"}]},
    }
    if settings is not None:
        interface["settings"] = settings
    return {"seedVersion": "1.0.0", "job": {
        "name": name, "jobVersion": version, "packageVersion": "1.0.0",
        "title": title or f"Registry test {name}", "description": "A registry test type",
        "tags": list(tags), "maintainer": {"name": "tests", "email": "tests@example.org"},
        "timeout": 600, "interface": interface, **job}}


def sleep_manifest(name: str, version: str = "1.0.0") -> dict[str, Any]:
    """A manifest that sleeps ``seconds``."""
    return manifest(name, version, command="${PYTHON} -m uws_server.programs.sleep ${seconds} "
                    "${OUTPUT_DIR}/result.txt",
                    inputs=[{"name": "seconds", "type": "number", "required": True}])


def register(base: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    """POST a job type; assert the status; return the JSON answer."""
    response = requests.post(f"{base}/v6/job-types/", json=body, timeout=30)
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def patch(base: str, name: str, version: str, body: dict[str, Any], status: int = 200
          ) -> requests.Response:
    """PATCH a job type version; assert the status."""
    response = requests.patch(f"{base}/v6/job-types/{name}/{version}/", json=body, timeout=30)
    assert response.status_code == status, (response.status_code, response.text)
    return response


def doc_examples(path: Path) -> list[tuple[str, Any]]:
    """The ``Request: METHOD url`` / JSON pairs of a reference document, in order.

    Returns ``(request line, parsed JSON body)``; a request without a body gets ``None``.
    """
    text = path.read_text()
    found = []
    for match in re.finditer(r"Request: (GET|POST|PATCH) (\S+)\n", text):
        rest = re.sub(r"^\.\. code-block:: \w+\s*", "", text[match.end():].lstrip())
        body = None
        if rest.startswith("{"):
            try:
                body, _ = json.JSONDecoder().raw_decode(rest)
            except ValueError:  # some response examples are not valid JSON
                body = None
        found.append((f"{match.group(1)} {match.group(2)}", body))
    return found


def response_keys(path: Path, method_url: str) -> set[str]:
    """The JSON field names in the documented response of a request example.

    The documents' response examples are not always valid JSON (missing commas,
    ``{ ... }``), so the names are collected textually.
    """
    text = path.read_text()
    start = text.index(f"Request: {method_url}\n") + len(method_url) + 10
    end = text.find("Request: ", start)
    block = text[start:end if end > 0 else len(text)]
    if "Response:" in block:
        block = block[block.index("Response:"):]
    block = re.split(r"\n\s*(?:\||\+-|[A-Z][a-z]+ [A-Z][a-z ]+\|)", block, maxsplit=1)[0]
    return set(re.findall(r'"(\w+)"\s*:', block))


def keys_of(doc: Any) -> set[str]:
    """Every field name in a JSON document, at any depth."""
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in keys_of(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in keys_of(v)}
    return set()


def example_body(method_url: str, path: Path = DOC_002) -> dict[str, Any]:
    """The JSON body of one request example (a deep copy)."""
    for line, body in doc_examples(path):
        if line == method_url and body is not None:
            return copy.deepcopy(body)
    raise LookupError(method_url)
