"""Helpers of the HTTP-edge tests (issue 15, items 6, 7, 8, 12, 13)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import requests

from tests.support import ROOT, LiveServer, list_job_ids

_ECHO = json.loads((ROOT / "uws_server" / "jobtypes" / "manifests" / "echo.json").read_text())


def unique(prefix: str) -> str:
    """A job type name no other test uses."""
    return f"edge-{prefix}-{uuid.uuid4().hex[:8]}"


def manifest(name: str, **job: Any) -> dict[str, Any]:
    """The shipped echo manifest under another name, with ``job`` fields replaced."""
    doc = copy.deepcopy(_ECHO)
    doc["job"]["name"] = name
    doc["job"].update(job)
    return doc


def job_type_exists(server: LiveServer, name: str) -> bool:
    """Whether the registry knows a job type of that name."""
    response = requests.get(f"{server.url}/v6/job-types/{name}/", timeout=10)
    return response.status_code == 200 and response.json()["count"] > 0


def echo_jobs(server: LiveServer) -> list[str]:
    """The ids of the echo job list (to check that a refused request created nothing)."""
    return list_job_ids(server.list_url("echo"))


def deep_json(depth: int) -> str:
    """An array nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth
