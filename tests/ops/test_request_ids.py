"""X-Request-ID: accepted when safe, made otherwise, answered always, in the request's log lines."""

from __future__ import annotations

import json
import re
import time

import requests

from tests.conftest import POSTGRES_BASE
from tests.support import server_with_own_database
from uws_server.requestid import MAX_LENGTH, accept

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_a_safe_request_id_is_answered_as_sent(server):
    sent = "3f2b8c1e-7d4a-4f0e-9b6a-2c5d8e1f0a7b"
    response = requests.get(f"{server.url}/health", headers={"X-Request-ID": sent}, timeout=10)
    assert response.headers["X-Request-ID"] == sent


def test_a_request_without_an_id_gets_a_new_one_on_every_kind_of_answer(server):
    seen = set()
    for path in ("/health", "/uws/echo", "/uws/no-such-type", "/no/route/at/all"):
        response = requests.get(server.url + path, timeout=10)
        assert HEX32.fullmatch(response.headers["X-Request-ID"]), (path, response.headers)
        seen.add(response.headers["X-Request-ID"])
    assert len(seen) == 4


def test_an_unsafe_or_overlong_request_id_is_replaced_not_echoed(server):
    for bad in ("a" * (MAX_LENGTH + 1), "evil value", "id\"<script>", "x;y"):
        response = requests.get(f"{server.url}/health", headers={"X-Request-ID": bad},
                                timeout=10)
        assert HEX32.fullmatch(response.headers["X-Request-ID"]), bad


def test_accept_keeps_exactly_the_safe_ids():
    assert accept("abc.DEF_1:2-3") == "abc.DEF_1:2-3"
    assert accept("a" * MAX_LENGTH) == "a" * MAX_LENGTH
    assert HEX32.fullmatch(accept("a\nb"))
    assert HEX32.fullmatch(accept(""))
    assert HEX32.fullmatch(accept(None))


def _lines_with(server, rid: str, want: int = 3, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in server.log().splitlines() if rid in line]
        if len(lines) >= want or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_the_request_id_is_in_the_requests_log_lines_and_its_access_line(server):
    rid = f"req-{time.time_ns()}"
    response = requests.post(server.list_url("echo"), data={"message": "hi", "PHASE": "RUN"},
                             headers={"X-Request-ID": rid}, allow_redirects=False, timeout=30)
    assert response.status_code == 303
    lines = _lines_with(server, rid)
    assert any(f"[{rid}]: job " in line and "-> QUEUED" in line for line in lines), lines
    assert any('"POST /uws/echo' in line and line.endswith(rid) for line in lines), lines


def test_json_log_lines_carry_the_request_id_as_a_field(database_url, tmp_path):
    with server_with_own_database(database_url, tmp_path, "rid_json", POSTGRES_BASE,
                                  UWS_LOG_FORMAT="json") as live:
        rid = f"json-{time.time_ns()}"
        requests.post(live.list_url("echo"), data={"message": "hi", "PHASE": "RUN"},
                      headers={"X-Request-ID": rid}, allow_redirects=False, timeout=30)
        docs = [json.loads(line) for line in _lines_with(live, rid) if line.startswith("{")]
        assert any(doc.get("request_id") == rid and "-> QUEUED" in doc["message"]
                   for doc in docs), docs
        assert any(doc["message"].endswith(rid) and "POST /uws/echo" in doc["message"]
                   for doc in docs), docs
