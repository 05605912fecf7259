"""Issue 15: a bounded random fuzz of every front door (UWS, ``/v6``, ``/api/v1``, the root).

A few hundred requests per database, reproducible (seeded): random paths built from real and
hostile segments, methods, query strings, headers and bodies (forms, multipart, JSON, invalid
UTF-8, NUL, huge numbers, deep nesting, long lines). Every answer must be below 500, carry no
stack trace, never be an HTML page, and errors must be one line in the door's shape.

The server is one of its own (``fuzz_server``): the fuzz creates and starts jobs, and must not
fill the session server's queue. Its job types do nothing slow and reach no network: ``sleep``
is left out, URLs point at a closed loopback port (refused by the SSRF guard anyway), the OCPS
repository is a ``file://`` path that does not exist.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, server_with_own_database

REQUESTS = int(os.environ.get("UWS_TEST_FUZZ_REQUESTS", "300"))
SEED = 1515
REPO = "file:///nonexistent-uws-fuzz/repo"

SEGMENTS = ["echo", "wordcount", "ocps", "nosuch", "%00", "a%00b", "%FF", "%C3%A9", "é", "..",
            "%2e%2e", "", "a" * 300, "9" * 30, "-1", "0", "1.0.0", "%20", "x%2Fy", "@",
            "phase", "results", "parameters", "revisions", "{job}", "{job}", "{job}"]
TEMPLATES = [
    "/uws/echo", "/uws/echo", "/uws/echo/{job}", "/uws/echo/{job}/phase",
    "/", "/uws", "/uws/", "/uws/{s}", "/uws/{s}/", "/uws/echo/{s}", "/uws/{s}/{s}",
    "/uws/echo/{job}/{s}", "/uws/echo/{job}/parameters/{s}", "/uws/echo/{job}/results/{s}",
    "/uws/echo/{job}/parameters/message/{s}", "/uws//echo", "//uws/echo",
    "/v6/job-types/", "/v6/job-types", "/v6/job-types/{s}/", "/v6/job-types/{s}/{s}/",
    "/v6/job-types/echo/1.0.0/revisions/{s}/", "/v6/job-types/{s}/{s}/revisions/",
    "/v6/job-types/status/", "/v6/job-types/pending/", "/v6/job-type-names/",
    "/v6/job-types/validation/", "/v6/{s}", "/api/v1/job", "/api/v1/job/{s}",
    "/api/v1/job/{ocps}/{s}", "/api/v1/job/result/{s}/{s}", "/api/v1/{s}", "/{s}",
]
METHODS = ["GET"] * 4 + ["POST"] * 4 + ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
PARAMS = ["PHASE", "phase", "LAST", "AFTER", "WAIT", "RUNID", "EXECUTIONDURATION", "DESTRUCTION",
          "ACTION", "VERSION", "message", "input", "started", "ended", "page", "page_size",
          "id", "keyword", "order", "is_active", "format", "Message", "x"]
VALUES = ["RUN", "ABORT", "DELETE", "EXECUTING", "executing", "json", "0", "-1", "1e999",
          "9" * 25, "-" + "9" * 25, "nan", "inf", "P5000000W", "PT3H", "P" + "9" * 300 + "W",
          "2030-01-01T00:00:00+24:00", "2030-01-01T00:00:00+99:99", "0001-01-01T00:00:00+01:00",
          "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00Z", "\x00", "a\x00b", "é", "\ufffd",
          "x" * 3000, "true", "yes", "http://127.0.0.1:1/x", "ftp://x/y", "param:nothing",
          "[1,2]", "{}", "1.0.0", "", " "]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain",
                 "multipart/form-data; boundary=zz", "multipart/form-data",
                 "application/vnd.x+json", "application/xml", "", "application/json; charset=x"]
ORIGINS = [None] * 12 + ["http://attacker.example", "null", "{own}"]
HOSTS = [None] * 20 + ["attacker.example", "localhost:1", "{own}", "[::1]:{port}", "bad host!"]
ACCEPTS = [None, "application/json", "*/*", "text/html", "application/xml;q=0.1, */*"]


@pytest.fixture(scope="module")
def fuzz_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """A server of its own with the OCPS dialect on (so its bodies are read) and short WAITs."""
    with server_with_own_database(
            database_url, tmp_path_factory.mktemp("fuzz"), "fuzz", POSTGRES_BASE,
            UWS_MAX_WAIT="1", UWS_OCPS_ALLOWED_COMMANDS="true", UWS_OCPS_ALLOWED_REPOS=REPO,
            UWS_MAX_REQUEST_BYTES=str(4 * 1024 * 1024)) as live:
        yield live


def _deep(rng: random.Random) -> str:
    depth = rng.choice([70, 900, 5000, 100_000])
    return "[" * depth + "]" * depth


def _json_value(rng: random.Random) -> Any:
    return rng.choice([rng.choice(VALUES), 1e308, -(10**30), 2**70, None,
                       True, [rng.choice(VALUES)], {"a": rng.choice(VALUES)}])


def _body(rng: random.Random) -> tuple[Any, dict[str, str], dict[str, Any] | None]:
    """(data, extra headers, files) for one request."""
    kind = rng.choice(["none", "form", "form", "json", "json", "raw", "multipart", "deep"])
    if kind == "none":
        return None, {}, None
    if kind == "form":
        form = {rng.choice(PARAMS): rng.choice(VALUES) for _ in range(rng.randint(0, 3))}
        if rng.random() < 0.6:  # often a valid echo job, so that creation paths run too
            form["message"] = rng.choice(VALUES[:12])
        return form, {}, None
    if kind == "json":
        names = [*PARAMS, "manifest", "command", "url", "run_id", "environment",
                 "docker_image", "configuration", "max_tries"]
        doc: dict[str, Any] = {rng.choice(names): _json_value(rng)
                               for _ in range(rng.randint(1, 5))}
        if rng.random() < 0.3:
            doc.update(command="true", url=REPO, commit_ref="main", run_id="fuzz")
        text = json.dumps(doc)
        if rng.random() < 0.2:
            text = text.replace('"', '"\\u0000', 1)
        return text.encode(), {"Content-Type": "application/json"}, None
    if kind == "raw":
        return rng.choice([b"message=caf%E9", b"message=caf\xe9", b"\xff\xfe\x00", b"{\"a\":",
                           b"message=" + b"%" * 50, b"[1,2,3]", b"a=1&" * 2000,
                           b"message=x&message=y&PHASE=RUN"]), {}, None
    if kind == "multipart":
        return ({"message": rng.choice(VALUES)},
                {}, {rng.choice(["input", "message", "zz"]): ("f.txt", b"abc\xff")})
    return f'{{"message": {_deep(rng)}, "manifest": {_deep(rng)}}}'.encode(), \
        {"Content-Type": "application/json"}, None


def _creation(rng: random.Random, server: LiveServer) -> requests.PreparedRequest:
    """A nearly valid job creation (UWS form or JSON, OCPS), with one hostile value."""
    value = rng.choice(VALUES)
    door = rng.choice(["form", "json", "ocps"])
    if door == "form":
        data = {"message": value, rng.choice(["PHASE", "RUNID", "DESTRUCTION",
                                              "EXECUTIONDURATION"]): rng.choice(VALUES)}
        return requests.Request("POST", server.list_url("echo"), data=data).prepare()
    if door == "json":
        return requests.Request("POST", server.list_url("echo"),
                                json={"message": _json_value(rng), "PHASE": "RUN"}).prepare()
    body = {"run_id": value, "command": "true", "url": REPO, "commit_ref": "main",
            "environment": [{"name": "X", "value": rng.choice(VALUES)}]}
    return requests.Request("PUT", f"{server.url}/api/v1/job", json=body).prepare()


def _request(rng: random.Random, server: LiveServer, job: str, ocps_job: str
             ) -> requests.PreparedRequest:
    if rng.random() < 0.15:
        return _creation(rng, server)
    template = rng.choice(TEMPLATES)
    path = template
    while "{s}" in path:
        path = path.replace("{s}", rng.choice(SEGMENTS), 1)
    path = path.replace("{job}", job).replace("{ocps}", ocps_job)
    if rng.random() < 0.02:
        path += "/" + "a" * 5000  # past gunicorn's request-line limit
    query = "&".join(f"{rng.choice(PARAMS)}={requests.utils.quote(rng.choice(VALUES))}"
                     for _ in range(rng.choice([0, 0, 0, 1, 2, 3])))
    if rng.random() < 0.1:
        query += rng.choice(["&x=%FF", "&x=%00", "&=%", "&%zz", "&a=" + "%C3" * 3])
    data, headers, files = _body(rng)
    port = server.url.rsplit(":", 1)[1]
    own = server.url.removeprefix("http://")
    if (origin := rng.choice(ORIGINS)) is not None:
        headers["Origin"] = origin.replace("{own}", server.url)
    if (host := rng.choice(HOSTS)) is not None:
        headers["Host"] = host.replace("{own}", own).replace("{port}", port)
    if (accept := rng.choice(ACCEPTS)) is not None:
        headers["Accept"] = accept
    if files is None and data is not None and rng.random() < 0.3:
        headers["Content-Type"] = rng.choice(CONTENT_TYPES)
    if rng.random() < 0.02:
        headers["X-Big"] = "b" * 9000  # past gunicorn's header-field limit
    prepared = requests.Request(rng.choice(METHODS), f"{server.url}{path}", data=data,
                                files=files, headers=headers).prepare()
    if query:
        prepared.url = f"{prepared.url}?{query}"
    return prepared


def _is_bad(response: requests.Response, method: str) -> bool:
    """A server error, a trace, an HTML page, or an error that is not one line."""
    body = response.content
    if response.status_code >= 500 or b"Traceback" in body or b'File "' in body:
        return True
    if response.status_code >= 300 and "html" in response.headers.get("Content-Type", ""):
        return True
    if response.status_code >= 400 and method != "HEAD":
        text = body.decode("utf-8", "replace").strip()
        return not text or "\n" in text
    return False


def test_random_requests_to_every_door_never_get_a_server_error(fuzz_server):
    server = fuzz_server
    job = server.create("echo", {"message": "fuzz target"})
    job_id = job.rsplit("/", 1)[1]
    ocps = requests.put(f"{server.url}/api/v1/job", timeout=30,
                        json={"run_id": "1", "command": "true", "url": REPO, "commit_ref": "main"})
    assert ocps.status_code == 200, ocps.text
    rng = random.Random(f"{SEED}-{server.database_url.split(':', 1)[0]}")
    statuses: Counter[int] = Counter()
    problems = []
    with requests.Session() as session:
        for number in range(REQUESTS):
            prepared = _request(rng, server, job_id, ocps.json()["jobId"])
            try:
                response = session.send(prepared, allow_redirects=False, timeout=30)
            except requests.ConnectionError as exc:  # gunicorn closes after refusing a request
                session.close()
                problems.append((number, prepared.method, prepared.url[:300],
                                 dict(prepared.headers), f"no answer: {exc}"))
                continue
            statuses[response.status_code] += 1
            if _is_bad(response, prepared.method or ""):
                problems.append((number, prepared.method, prepared.url[:200],
                                 response.status_code, response.content[:200]))
    print(f"\nfuzz ({server.database_url.split(':', 1)[0]}): {REQUESTS} requests, statuses "
          f"{dict(sorted(statuses.items()))}")
    assert not problems, problems[:10]
    assert "unexpected error" not in server.log()
