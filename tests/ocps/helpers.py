"""Requests as the OCPS CSC sends them, and polling as it polls."""

from __future__ import annotations

import re
import time
from typing import Any

import requests

from tests.support import LiveServer

FINAL = {"completed", "error", "aborted", "unknown"}
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
#: The CSC sends no Accept header (requests would add ``Accept: */*``).
NO_ACCEPT = {"Accept": None}


def api(server: LiveServer) -> str:
    """``{base}`` as the CSC is configured with it."""
    return f"{server.url}/api/v1"


def put_job(server: LiveServer, body: Any) -> requests.Response:
    """``PUT {base}/job`` with a JSON body, as the CSC does."""
    return requests.put(f"{api(server)}/job", json=body, headers=NO_ACCEPT, timeout=30)


def get_job(server: LiveServer, job_id: str) -> requests.Response:
    """``GET {base}/job/{jobId}``."""
    return requests.get(f"{api(server)}/job/{job_id}", headers=NO_ACCEPT, timeout=30)


def poll(server: LiveServer, job_id: str, run_id: str | None = None,
         timeout: float = 40) -> dict[str, Any]:
    """Poll every 0.5 s until a lower-case final phase, checking what the CSC checks."""
    deadline = time.monotonic() + timeout
    while True:
        response = get_job(server, job_id)
        assert response.status_code == 200, (response.status_code, response.text)
        job = response.json()
        assert job["jobId"] == job_id
        if run_id is not None:
            assert job["runId"] == run_id
        assert job["phase"] == job["phase"].lower(), job["phase"]
        if job["phase"] in FINAL:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['phase']} after {timeout} s:\n"
                                 f"{server.log()[-3000:]}")
        time.sleep(0.5)


def job_count(server: LiveServer) -> int:
    """How many OCPS jobs the server lists."""
    response = requests.get(f"{api(server)}/job", timeout=30)
    assert response.status_code == 200, response.text
    return len(response.json())

