"""The HTCondor backend behind the dispatcher and the UWS endpoints.

With the in-memory fake schedd (which writes real HTCondor event-log lines), a job
goes through the same service calls as on the local executor; with the real
bindings pointed at a collector that accepts connections and never answers, the
web tier keeps answering and the job waits, queued, without being lost.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.htcondor.fake_schedd import FakeSchedd
from tests.support import LiveServer
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings
from uws_server.identity import ANONYMOUS
from uws_server.wiring import Components, bootstrap, build_components


@pytest.fixture
def condor(tmp_path: Path) -> Iterator[tuple[Components, Dispatcher, FakeSchedd]]:
    settings = Settings(data_dir=tmp_path / "data",
                        database_url=f"sqlite:///{tmp_path / 'uws.sqlite3'}")
    bootstrap(settings)
    parts = build_components(settings)
    schedd = FakeSchedd()
    executor = HTCondorExecutor(HTCondorSettings(), service=settings.service_name, schedd=schedd)
    yield parts, Dispatcher(parts, executor), schedd
    parts.bus.close()


def _phase(parts: Components, job_id: str) -> str:
    return parts.jobs.get(ANONYMOUS, "echo", job_id).phase


def test_echo_job_runs_on_htcondor_through_the_job_service(condor):
    parts, dispatcher, schedd = condor
    job = parts.jobs.create(ANONYMOUS, "echo", [("message", "to the pool"), ("PHASE", "RUN")],
                            {})
    dispatcher.tick()
    (backend_id,) = list(schedd.queue)
    assert schedd.queue[backend_id]["UwsJobId"] == job.id
    assert _phase(parts, job.id) == "QUEUED"
    schedd.start(backend_id)
    dispatcher.tick()
    assert _phase(parts, job.id) == "EXECUTING"
    outputs = parts.storage.job_dir(job.id) / "outputs"
    (outputs / "result.txt").write_text("to the pool")  # what file transfer brings back
    schedd.terminate(backend_id, exit_code=0)
    dispatcher.tick()
    done = parts.jobs.get(ANONYMOUS, "echo", job.id)
    assert done.phase == "COMPLETED"
    assert next(r.result_id for r in done.results) == "result"


def test_abort_removes_the_htcondor_job(condor):
    parts, dispatcher, schedd = condor
    job = parts.jobs.create(ANONYMOUS, "echo", [("message", "x"), ("PHASE", "RUN")], {})
    dispatcher.tick()
    (backend_id,) = list(schedd.queue)
    schedd.start(backend_id)
    dispatcher.tick()
    parts.jobs.abort(ANONYMOUS, "echo", job.id)
    dispatcher.tick()
    assert backend_id not in schedd.queue
    assert _phase(parts, job.id) == "ABORTED"


def test_held_for_a_transfer_failure_ends_in_error_with_the_hold_reason(condor):
    parts, dispatcher, schedd = condor
    parts_job = parts.jobs.create(ANONYMOUS, "echo", [("message", "x"), ("PHASE", "RUN")], {})
    dispatcher.tick()
    (backend_id,) = list(schedd.queue)
    schedd.hold(backend_id, code=13, reason="Transfer input files failure")
    for _ in range(4):
        dispatcher.tick()
    done = parts.jobs.get(ANONYMOUS, "echo", parts_job.id)
    assert done.phase in ("ERROR", "QUEUED")  # a system failure may be retried first
    if done.phase == "ERROR":
        assert "Transfer input files failure" in done.error_message


class _SilentCollector:
    """A TCP server that accepts connections and never answers (a hung daemon)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_hung_schedd_stalls_neither_the_web_tier_nor_loses_the_job(tmp_path):
    silent = _SilentCollector()
    try:
        with LiveServer.start(tmp_path, f"sqlite:///{tmp_path / 'uws.sqlite3'}",
                              UWS_EXECUTOR="htcondor",
                              UWS_HTCONDOR_COLLECTOR=f"127.0.0.1:{silent.port}",
                              UWS_HTCONDOR_SCHEDD="nobody", UWS_HTCONDOR_CALL_TIMEOUT="2",
                              UWS_HTCONDOR_MAX_IDLE_JOBS="10") as server:
            job = server.create("echo", {"message": "waiting", "PHASE": "RUN"})
            slowest = 0.0
            until = time.monotonic() + 30
            while time.monotonic() < until and "will retry" not in server.log():
                started = time.monotonic()
                response = requests.get(job, timeout=10)
                slowest = max(slowest, time.monotonic() - started)
                assert response.status_code == 200
                time.sleep(0.2)
            assert "will retry" in server.log(), server.log()[-3000:]
            assert slowest < 1.0
            assert requests.get(f"{job}/phase", timeout=5).text == "QUEUED"
    finally:
        silent.close()
