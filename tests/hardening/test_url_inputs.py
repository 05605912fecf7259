"""Issue 15 items 3, 4, 5: inputs by URL, over HTTP against live servers on both databases.

Item 3: one job's failing fetch ends that job, never the queue. Item 4: the fetch
has an overall deadline, runs outside any transaction, concurrently and off the
dispatcher's critical path. Item 5: the SSRF guard.

Two servers per database: ``open_server`` may fetch from 127.0.0.1 (the
misbehaving servers of these tests run there), ``guarded_server`` has the
default policy (plus a deny pattern) and proves what it refuses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.hardening.dispatch_kit import answer, drip, hang, not_http, redirect_to, tcp_server
from tests.support import (
    NS,
    LiveServer,
    assert_plain_error,
    get_job_xml,
    list_job_ids,
    server_with_own_database,
)

FETCH_TIMEOUT = 3
FINAL = {"COMPLETED", "ERROR", "ABORTED"}


@pytest.fixture(scope="module")
def open_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """Fetches from 127.0.0.1 within 3 s per URL, four at a time."""
    with server_with_own_database(
            database_url, tmp_path_factory.mktemp("open"), "urlopen", POSTGRES_BASE,
            UWS_URL_ALLOW="127.0.0.1/32", UWS_FETCH_TIMEOUT=str(FETCH_TIMEOUT),
            UWS_FETCH_CONCURRENCY="4") as live:
        yield live


@pytest.fixture(scope="module")
def guarded_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[LiveServer]:
    """The default SSRF policy, plus ``UWS_URL_DENY=*.example.net``."""
    with server_with_own_database(
            database_url, tmp_path_factory.mktemp("guarded"), "urlguard", POSTGRES_BASE,
            UWS_URL_DENY="*.example.net") as live:
        yield live


class Counting:
    """A handler wrapper that counts the connections a server received."""

    def __init__(self, handle: Callable[..., None]) -> None:
        self.handle = handle
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, conn: object) -> None:
        with self._lock:
            self.count += 1
        self.handle(conn)


def _error_message(job_url: str) -> str:
    summary = get_job_xml(job_url).find("uws:errorSummary", NS)
    assert summary is not None
    return summary.find("uws:message", NS).text or ""


def _wait(server: LiveServer, job_url: str, timeout: float = 30) -> str:
    return server.wait_phase(job_url, FINAL, timeout=timeout)


# -- item 3 ------------------------------------------------------------------------------
def test_an_input_server_that_does_not_speak_http_ends_that_job_and_no_other(open_server):
    with tcp_server(not_http) as url:
        broken = open_server.create("wordcount", {"input": f"{url}/x.txt", "PHASE": "RUN"})
        behind = open_server.create("echo", {"message": "queued after it", "PHASE": "RUN"})
        assert _wait(open_server, behind) == "COMPLETED"
        assert _wait(open_server, broken) == "ERROR"
    message = _error_message(broken)
    assert "input" in message and "BadStatusLine" in message, message


# -- item 4 ------------------------------------------------------------------------------
def test_the_fetch_deadline_bounds_the_whole_download_not_each_read(open_server):
    with tcp_server(drip(seconds=20, interval=0.5)) as url:
        started = time.monotonic()
        job = open_server.create("wordcount", {"input": f"{url}/slow.txt", "PHASE": "RUN"})
        assert _wait(open_server, job) == "ERROR"
        elapsed = time.monotonic() - started
    assert elapsed < FETCH_TIMEOUT + 7, elapsed  # the drip alone lasts 20 s
    assert f"not complete within {FETCH_TIMEOUT} s" in _error_message(job)


def test_hung_inputs_hold_neither_the_database_nor_other_jobs_and_time_out_together(
        open_server):
    with tcp_server(hang(30)) as url:
        started = time.monotonic()
        hung = [open_server.create("wordcount", {"input": f"{url}/{n}.txt", "PHASE": "RUN"})
                for n in range(4)]
        time.sleep(0.5)  # the dispatcher has handed them to its fetch threads
        before = time.monotonic()
        response = requests.post(open_server.list_url("echo"),
                                 data={"message": "unrelated", "PHASE": "RUN"},
                                 allow_redirects=False, timeout=15)
        assert response.status_code == 303, response.text
        assert time.monotonic() - before < 2  # no lock held while fetching
        unrelated = response.headers["Location"]
        assert _wait(open_server, unrelated, timeout=10) == "COMPLETED"
        assert time.monotonic() - before < FETCH_TIMEOUT  # not behind the hung fetches
        assert [_wait(open_server, job) for job in hung] == ["ERROR"] * 4
        elapsed = time.monotonic() - started
    assert elapsed < 3 * FETCH_TIMEOUT, elapsed  # concurrently: one at a time takes 4 x 3 s
    assert all("not complete within" in _error_message(job) for job in hung)


# -- item 5 ------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/v6/job-types/", "http://127.1:{port}/", "http://2130706433/",
    "http://0x7f000001/", "http://0177.0.0.1/", "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0:{port}/", "http://169.254.169.254/latest/",
    "http://10.1.2.3/", "http://192.168.0.1/", "http://172.16.0.1/", "http://[fd00::1]/",
    "http://[fe80::1]/", "http://[64:ff9b::7f00:1]/", "http://100.64.0.1/",
])
def test_internal_addresses_written_as_literals_are_refused_at_creation(guarded_server, url):
    port = guarded_server.url.rsplit(":", 1)[1]
    count = len(list_job_ids(guarded_server.list_url("wordcount")))
    response = requests.post(guarded_server.list_url("wordcount"),
                             data={"input": url.format(port=port)}, allow_redirects=False,
                             timeout=10)
    assert_plain_error(response, 400, "input", "refused")
    assert len(list_job_ids(guarded_server.list_url("wordcount"))) == count


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x",
                                 "gopher://example.org/", "http://user:pw@example.org/x",
                                 "http://files.example.net/x"])
def test_other_schemes_credentials_and_denied_hosts_are_refused_at_creation(guarded_server,
                                                                            url):
    response = requests.post(guarded_server.list_url("wordcount"), data={"input": url},
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 400, "input")


def test_a_name_that_resolves_to_loopback_is_refused_when_fetched(guarded_server):
    counter = Counting(answer(b"internal data\n"))
    with tcp_server(counter) as url:
        port = url.rsplit(":", 1)[1]
        job = guarded_server.create("wordcount",
                                    {"input": f"http://localhost:{port}/x", "PHASE": "RUN"})
        assert _wait(guarded_server, job) == "ERROR"
    message = _error_message(job)
    assert "refused" in message and "loopback" in message, message
    assert counter.count == 0  # refused before connecting


def test_a_redirect_to_an_internal_address_is_refused(open_server):
    secret = Counting(answer(b"internal data\n"))
    with tcp_server(secret) as secret_url:  # on 127.0.0.1, allowed, so: via 127.0.0.2
        target = secret_url.replace("127.0.0.1", "127.0.0.2") + "/secret"
        with tcp_server(redirect_to(target)) as url:
            job = open_server.create("wordcount", {"input": f"{url}/start", "PHASE": "RUN"})
            assert _wait(open_server, job) == "ERROR"
    message = _error_message(job)
    assert "127.0.0.2" in message and "loopback" in message, message
    assert secret.count == 0


def test_an_allowed_redirect_is_followed(open_server):
    with tcp_server(answer(b"one two three\n")) as data_url, \
            tcp_server(redirect_to(f"{data_url}/words.txt")) as url:
        job = open_server.create("wordcount", {"input": f"{url}/start", "PHASE": "RUN"})
        assert _wait(open_server, job) == "COMPLETED"
    assert requests.get(f"{job}/results/result", timeout=10).text.strip() == "3"


def test_an_input_not_fetched_yet_answers_409_and_never_redirects_to_its_url(guarded_server):
    job = guarded_server.create("wordcount", {"input": "http://example.org/data.txt"})
    response = requests.get(f"{job}/parameters/input", allow_redirects=False, timeout=10)
    assert_plain_error(response, 409, "not fetched yet")
    assert "Location" not in response.headers
    requests.delete(job, allow_redirects=False, timeout=10)
