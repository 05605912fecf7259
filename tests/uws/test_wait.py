"""Blocking WAIT on the job resource: conformance items 36-43, pitfall P14."""

from __future__ import annotations

import threading
import time

import requests

from tests.support import get_job_xml, uws_text
from tests.uws.conftest import MAX_WAIT


class _Waiting(threading.Thread):
    """A GET of the job with WAIT in a thread; records how long it took and what it saw."""

    def __init__(self, url, **params):
        super().__init__(daemon=True)
        self.url, self.params = url, params
        self.elapsed = None
        self.phase = None

    def run(self):
        started = time.monotonic()
        root = get_job_xml(self.url, **self.params)
        self.elapsed = time.monotonic() - started
        self.phase = uws_text(root, "phase")


def _timed_get(url, **params):
    started = time.monotonic()
    root = get_job_xml(url, **params)
    return time.monotonic() - started, uws_text(root, "phase")


def test_wait_returns_soon_after_a_phase_change(server):
    job = server.create("echo", {"message": "wake me"})
    waiting = _Waiting(job, WAIT=30)
    waiting.start()
    time.sleep(1)
    assert waiting.is_alive(), "WAIT on a PENDING job returned at once"
    requests.post(f"{job}/phase", data={"PHASE": "RUN"}, timeout=10)
    waiting.join(35)
    assert waiting.elapsed is not None
    assert 0.8 < waiting.elapsed < 10
    assert waiting.phase != "PENDING"


def test_wait_returns_when_an_executing_job_completes(server, cleanup):
    job = server.create("sleep", {"seconds": "1.5", "PHASE": "RUN"})
    cleanup.append(job)
    server.wait_phase(job, {"EXECUTING"})
    elapsed, phase = _timed_get(job, WAIT=30)
    assert phase in {"COMPLETED", "ERROR"}
    assert elapsed < 10


def test_wait_returns_immediately_in_finished_phases(server):
    done = server.create("echo", {"message": "done", "PHASE": "RUN"})
    server.wait_phase(done, {"COMPLETED"})
    aborted = server.create("echo", {"message": "aborted"})
    requests.post(f"{aborted}/phase", data={"PHASE": "ABORT"}, timeout=10)
    for job, expected in ((done, "COMPLETED"), (aborted, "ABORTED")):
        elapsed, phase = _timed_get(job, WAIT=30)
        assert phase == expected
        assert elapsed < 1.5


def test_wait_returns_immediately_for_an_error_job(server, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\xff\xfe\x00 not utf-8 \xc3")
    with open(bad, "rb") as handle:
        job = server.create("wordcount", {"PHASE": "RUN"}, files={"input": handle})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "ERROR"
    elapsed, phase = _timed_get(job, WAIT=30)
    assert phase == "ERROR"
    assert elapsed < 1.5


def test_wait_with_another_phase_returns_immediately(server):
    job = server.create("echo", {"message": "queued?"})
    elapsed, phase = _timed_get(job, WAIT=10, PHASE="QUEUED")
    assert phase == "PENDING"
    assert elapsed < 1.5


def test_wait_with_the_current_phase_blocks_phase_in_any_case(server):
    job = server.create("echo", {"message": "pending!"})
    elapsed, phase = _timed_get(job, wait=2, phase="pending")
    assert phase == "PENDING"
    assert 1.5 < elapsed < 10


def test_wait_zero_does_not_block(server):
    job = server.create("echo", {"message": "zero"})
    elapsed, phase = _timed_get(job, WAIT=0)
    assert phase == "PENDING"
    assert elapsed < 1.5


def test_repeated_wait_takes_the_smallest(server):
    job = server.create("echo", {"message": "twice"})
    started = time.monotonic()
    response = requests.get(f"{job}?WAIT=30&WAIT=1", timeout=40)
    assert response.status_code == 200
    assert time.monotonic() - started < 10


def test_wait_minus_one_is_capped_by_the_server(limited_server):
    """Item 40: -1 means as long as the server allows (UWS_MAX_WAIT=2 here)."""
    job = limited_server.create("echo", {"message": "forever"})
    elapsed, phase = _timed_get(job, WAIT=-1)
    assert phase == "PENDING"
    assert MAX_WAIT - 0.5 < elapsed < MAX_WAIT + 8


def test_wait_minus_one_on_the_default_server_returns_on_a_phase_change(server):
    """pyvo 1.9.1's wait(): WAIT=-1, no PHASE."""
    job = server.create("echo", {"message": "pyvo style"})
    waiting = _Waiting(job, WAIT=-1)
    waiting.start()
    time.sleep(0.5)
    requests.post(f"{job}/phase", data={"PHASE": "RUN"}, timeout=10)
    waiting.join(70)
    assert waiting.elapsed is not None and waiting.elapsed < 10


def test_wait_on_a_pending_job_returns_after_about_the_time_asked_without_blocking_others(
        server):
    """Items 39 and 43: the deadline is kept, and other clients are served meanwhile."""
    job = server.create("echo", {"message": "time out"})
    waiting = _Waiting(job, WAIT=2)
    waiting.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert requests.get(f"{job}/phase", timeout=10).text == "PENDING"
    assert requests.get(server.list_url("echo"), params={"LAST": 1}, timeout=10).ok
    assert time.monotonic() - started < 1.5
    waiting.join(15)
    assert waiting.phase == "PENDING"
    assert 1.5 < waiting.elapsed < 10


def test_waiters_over_the_limit_are_answered_at_once(limited_server):
    """Item 43: past the limit of blocked requests (1 here) the server does not block."""
    job = limited_server.create("echo", {"message": "crowd"})
    first = _Waiting(job, WAIT=MAX_WAIT)
    first.start()
    time.sleep(0.4)
    elapsed, phase = _timed_get(job, WAIT=MAX_WAIT)
    first.join(15)
    assert phase == "PENDING"
    assert elapsed < 1.5
    assert first.elapsed is not None and first.elapsed > 1.2
