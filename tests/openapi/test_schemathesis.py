"""schemathesis against a live server, on SQLite and PostgreSQL: no 5xx, every answer as
documented.

A real ``uws-server serve`` with an admin user runs per database; schemathesis loads the
document (the one the server serves at ``/openapi.json``, checked equal) and sends
generated requests to every operation, with the admin's token. No response may be a server
error, and each one's status, media type, headers and (JSON) body must be those the
document gives for its operation. Half the requests that name a job, a job type or a
job-type version are pointed at real ones, so that the fuzzing reaches past the 404s.

Bounded: ``UWS_TEST_SCHEMATHESIS_EXAMPLES`` generated examples per operation (default 10)
besides schemathesis's own boundary cases, about 2,000 requests per database (deterministic:
derandomized); ``WAIT`` is capped at 1 s on this server. The counts (requests, server
errors, schema violations) are printed and written as JSON to
``UWS_TEST_SCHEMATHESIS_REPORT`` (default ``$TMPDIR/uws-schemathesis-<database>.json``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, own_database
from uws_server.auth.users import UserService
from uws_server.db import Database, upgrade
from uws_server.openapi import build_document

EXAMPLES = int(os.environ.get("UWS_TEST_SCHEMATHESIS_EXAMPLES", "10"))
OCPS_COMMAND = "echo fuzz"
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance,
          content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@dataclass
class Fuzzed:
    """The server under test and what was seen."""

    server: LiveServer
    token: str
    kind: str
    jobs: dict[str, str] = field(default_factory=dict)  # door -> a real job id
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def new_jobs(self) -> None:
        """Fresh jobs to aim at, after a reset of the job type a fuzzed PATCH may pause."""
        reset = requests.patch(f"{self.server.url}/v6/job-types/echo/1.0.0/",
                               json={"is_active": True, "is_paused": False},
                               headers=self.headers, timeout=30)
        assert reset.status_code == 200, reset.text
        echo = requests.post(f"{self.server.url}/uws/echo", data={"message": "fuzz"},
                             headers=self.headers, allow_redirects=False, timeout=30)
        assert echo.status_code == 303, echo.text
        self.jobs["uws"] = echo.headers["Location"].rsplit("/", 1)[1]
        ocps = requests.put(f"{self.server.url}/api/v1/job", json={"command": OCPS_COMMAND},
                            headers=self.headers, timeout=30)
        assert ocps.status_code == 200, ocps.text
        self.jobs["ocps"] = ocps.json()["jobId"]

    def report(self) -> dict[str, Any]:
        return {"database": self.kind, "requests": self.requests,
                "statuses": dict(sorted(self.statuses.items())),
                "server_errors": len(self.server_errors),
                "schema_violations": len(self.violations),
                "server_error_samples": self.server_errors[:20],
                "violation_samples": self.violations[:20]}


@pytest.fixture(scope="module")
def fuzzed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    data_dir = tmp_path_factory.mktemp("schemathesis")
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with own_database(database_url, data_dir, "fuzz", POSTGRES_BASE) as url:
        upgrade(url)
        db = Database(url)
        users = UserService(db)
        users.add_user("fuzzer", admin=True)
        token = users.create_token("fuzzer")[1]
        db.dispose()
        with LiveServer.start(data_dir, url, UWS_MAX_WAIT="1",
                              UWS_OCPS_ALLOWED_COMMANDS=OCPS_COMMAND) as server:
            served = requests.get(f"{server.url}/openapi.json", timeout=30)
            assert served.status_code == 200, served.text
            assert served.json() == json.loads(json.dumps(build_document())), \
                "the server serves another document than the one fuzzed"
            state = Fuzzed(server, token, kind)
            state.new_jobs()
            yield state
    report = state.report()
    target = Path(os.environ.get("UWS_TEST_SCHEMATHESIS_REPORT")
                  or Path(tempfile.gettempdir()) / f"uws-schemathesis-{kind}.json")
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nschemathesis on {kind}: {report['requests']} requests, "
          f"{report['server_errors']} server errors, {report['schema_violations']} schema "
          f"violations (statuses {report['statuses']}); written to {target}")


#: The document the package builds; ``fuzzed`` checks that the server serves exactly this
#: (schemathesis's lazy fixture loader does not work with pytest 9, so the schema is loaded
#: here and each request is sent to the live server's URL).
schema = schemathesis.openapi.from_dict(build_document())


def _aim_at_real_things(case: Any, fuzzed: Fuzzed) -> None:
    """Point every other request that names a job, type or version at real ones."""
    params = case.path_parameters
    if not params or fuzzed.requests % 2:
        return
    if fuzzed.requests % 40 == 0:  # a fuzzed DELETE or ABORT may have ended the last ones
        fuzzed.new_jobs()
    door = "ocps" if case.path.startswith("/api/v1") else "uws"
    if "job_id" in params:
        params["job_id"] = fuzzed.jobs[door]
    if "jobtype" in params:
        params["jobtype"] = "echo"
    if case.path.startswith("/v6/job-types/{name}"):
        params["name"] = "echo"
        if "version" in params:
            params["version"] = "1.0.0"


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_and_never_with_a_server_error(case, fuzzed):
    _aim_at_real_things(case, fuzzed)
    response = case.call(base_url=fuzzed.server.url, headers=fuzzed.headers, timeout=30,
                         allow_redirects=False)
    fuzzed.requests += 1
    fuzzed.statuses[response.status_code] += 1
    label = f"{case.method} {case.formatted_path} -> {response.status_code}"
    if response.status_code >= 500:
        fuzzed.server_errors.append(f"{label}: {response.text[:200]}")
    try:
        case.validate_response(response, checks=CHECKS, headers=fuzzed.headers)
    except Exception as exc:
        if response.status_code < 500:
            fuzzed.violations.append(f"{label}: {str(exc)[:400]}")
        raise
