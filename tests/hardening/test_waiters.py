"""Issue 15 items 10 and 14: blocked ``WAIT`` requests never starve others, nor a shutdown.

Item 10: a crowd of clients blocked in ``WAIT`` must not occupy the threads
ordinary requests need (the issue saw a GET and a POST take 18 s behind 40
waiters). Item 14: on SIGTERM the blocked waiters answer at once with the
job's current document, instead of holding the graceful stop and then being
dropped unanswered. Timings are never tight: an answer within a few seconds
against a 20 s (or 60 s) ``WAIT``. ``bench/wait_load.py`` measures the real
figures (1,000 waiters, latency ratios, memory).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.hardening.crowd import answers, close, open_waiters, wait_until_blocked
from tests.support import (
    ROOT,
    LiveServer,
    free_port,
    postgres_schema,
    server_with_own_database,
)
from uws_server.config import Settings
from uws_server.notify import WakeBus
from uws_server.server import worker_connections, worker_threads

CROWD = 200  # more than the old thread pool (32) and waiter cap (64) together


def test_ordinary_requests_are_answered_while_a_crowd_is_blocked(hardening_server):
    job = hardening_server.create("echo", {"message": "watched"})
    crowd = open_waiters(job, CROWD, 20)
    try:
        wait_until_blocked(hardening_server.process.pid, CROWD)
        started = time.monotonic()
        assert requests.get(job, timeout=5).status_code == 200
        assert requests.get(f"{job}/phase", timeout=5).text == "PENDING"
        created = requests.post(hardening_server.list_url("echo"), data={"message": "new"},
                                allow_redirects=False, timeout=5)
        assert created.status_code == 303, created.text
        assert time.monotonic() - started < 5
        # the crowd was really blocked all along, and is answered by the phase change
        # (read at once: gunicorn lingers on each closed connection until its client hangs up)
        requests.post(f"{job}/phase", data={"PHASE": "ABORT"}, allow_redirects=False, timeout=5)
        done, _ = answers(crowd, 15)
    finally:
        close(crowd)
    assert len(done) == CROWD
    assert all(b"ABORTED" in answer for answer in done)
    requests.delete(created.headers["Location"], allow_redirects=False, timeout=10)


def test_default_limits_budget_a_thread_for_every_waiter_in_serve_and_gunicorn():
    """1,000 waiters by default, on threads of their own, the same in both servers."""
    defaults = Settings()
    assert defaults.max_waiters >= 1000
    threads = worker_threads(defaults, 32)
    assert threads == 32 + defaults.max_waiters
    assert worker_connections(threads) > threads
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UWS_", "GUNICORN_"))}
    done = subprocess.run(
        [sys.executable, "-c", "import uws_server.gunicorn_conf as c; "
         "print(c.threads, c.worker_connections, c.post_worker_init.__name__)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    conf_threads, conf_connections, hook = done.stdout.split()
    assert int(conf_threads) == threads and int(conf_connections) == worker_connections(threads)
    assert hook == "answer_waiters_on_stop"


def _assert_answered_at_once(crowd, count: int) -> None:
    done, last = answers(crowd, 8)
    assert len(done) == count, f"{count - len(done)} waiters got no answer"
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in done), done[0][:200]
    assert all(b"<uws:phase>PENDING</uws:phase>" in answer for answer in done)
    assert last < 5, f"the last waiter was answered {last:.1f} s after SIGTERM"


@pytest.fixture
def stoppable_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A ``serve`` of its own, for a test to stop."""
    with server_with_own_database(database_url, tmp_path, "stop", POSTGRES_BASE) as live:
        yield live


def test_sigterm_answers_blocked_waiters_at_once_in_serve(stoppable_server):
    job = stoppable_server.create("echo", {"message": "stop"})
    crowd = open_waiters(job, 20, 60)
    try:
        wait_until_blocked(stoppable_server.process.pid, 20)
        stoppable_server.process.send_signal(signal.SIGTERM)
        _assert_answered_at_once(crowd, 20)
    finally:
        close(crowd)
    assert stoppable_server.process.wait(15) == 0


@pytest.fixture
def gunicorn_server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """The production command (``gunicorn -c python:uws_server.gunicorn_conf``), one worker,
    on a database of its own (its master migrates it)."""
    with contextlib.ExitStack() as stack:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / 'gunicorn.sqlite3'}"
        else:
            url = stack.enter_context(
                postgres_schema(POSTGRES_BASE, f"uws_gunicorn_{uuid.uuid4().hex[:10]}"))
        port = free_port()
        env = {**{k: v for k, v in os.environ.items()
                  if not k.startswith(("UWS_", "GUNICORN_"))},
               "UWS_DATABASE_URL": url, "UWS_DATA_DIR": str(tmp_path / "data"),
               "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"}
        log_path = tmp_path / "gunicorn.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:uws_server.gunicorn_conf",
                 "uws_server.wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:  # listening before its master has migrated: answers may take a while
                    if requests.get(f"{base}/uws", timeout=5).ok:
                        break
                except requests.RequestException:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log_path.read_text()[-3000:])
                time.sleep(0.2)
            yield base, process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(30)


def test_sigterm_answers_blocked_waiters_at_once_under_gunicorn(gunicorn_server):
    base, process = gunicorn_server
    created = requests.post(f"{base}/uws/echo", data={"message": "stop"},
                            allow_redirects=False, timeout=10)
    assert created.status_code == 303, created.text
    crowd = open_waiters(created.headers["Location"], 20, 60)
    try:
        wait_until_blocked(process.pid, 20)
        process.send_signal(signal.SIGTERM)
        _assert_answered_at_once(crowd, 20)
    finally:
        close(crowd)
    assert process.wait(15) == 0


def test_stop_waiting_wakes_every_blocked_wait_at_once_and_later_ones_do_not_block():
    """The wake bus half of item 14, in-process: ``stop_waiting`` ends every ``wait``."""
    bus = WakeBus(None)
    ended: list[float] = []
    started = time.monotonic()

    def block(job_id: str) -> None:
        bus.wait(job_id, bus.generation(job_id), 30)
        ended.append(time.monotonic() - started)

    threads = [threading.Thread(target=block, args=(f"job{n % 3}",)) for n in range(30)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    bus.publish({"another-job"})  # wakes nobody: each job has its own condition
    time.sleep(0.2)
    assert not ended
    bus.stop_waiting()
    for thread in threads:
        thread.join(5)
    assert len(ended) == 30 and max(ended) < 3
    assert bus.stopping
    assert bus.wait("job0", bus.generation("job0"), 30) is True  # at once
    bus.close()
