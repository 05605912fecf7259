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
from sqlalchemy import select

from tests.htcondor.fake_schedd import FakeSchedd
from tests.support import LiveServer
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings, reasons
from uws_server.identity import ANONYMOUS
from uws_server.models import Job, JobEvent
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


@pytest.fixture
def held_condor(components: Components) -> Iterator[tuple[Components, Dispatcher, FakeSchedd]]:
    """The fake schedd behind a dispatcher, on each database (the ``components`` fixture)."""
    schedd = FakeSchedd()
    executor = HTCondorExecutor(HTCondorSettings(), service=components.settings.service_name,
                                schedd=schedd)
    yield components, Dispatcher(components, executor), schedd


def _held_job(parts: Components, dispatcher: Dispatcher, schedd: FakeSchedd) -> tuple[str, str]:
    """A job submitted to the fake schedd and held there by a person (code 1): HELD."""
    job = parts.jobs.create(ANONYMOUS, "echo", [("message", "held"), ("PHASE", "RUN")], {})
    dispatcher.tick()
    (backend_id,) = list(schedd.queue)
    schedd.hold(backend_id, code=1, reason="held by the operator")
    dispatcher.tick()
    assert _phase(parts, job.id) == "HELD"
    return job.id, backend_id


def _release_requested(parts: Components, job_id: str) -> bool:
    with parts.db.read() as session:
        return session.get(Job, job_id).release_requested


def test_phase_run_on_a_held_htcondor_job_releases_it_and_it_runs_to_completed(held_condor):
    parts, dispatcher, schedd = held_condor
    job_id, backend_id = _held_job(parts, dispatcher, schedd)
    parts.jobs.run(ANONYMOUS, "echo", job_id)
    assert _phase(parts, job_id) == "QUEUED"
    dispatcher.tick()
    ad = schedd.queue[backend_id]
    assert ad["JobStatus"] == 1 and ad["ReleaseReason"] == reasons.RELEASE_REASON
    assert _phase(parts, job_id) == "QUEUED" and not _release_requested(parts, job_id)
    dispatcher.tick()
    assert _phase(parts, job_id) == "QUEUED"  # the released job is not held again
    schedd.start(backend_id)
    dispatcher.tick()
    assert _phase(parts, job_id) == "EXECUTING"
    (parts.storage.job_dir(job_id) / "outputs" / "result.txt").write_text("held")
    schedd.terminate(backend_id, exit_code=0)
    dispatcher.tick()
    assert _phase(parts, job_id) == "COMPLETED"
    with parts.db.read() as session:
        events = list(session.scalars(select(JobEvent.to_phase).where(
            JobEvent.job_id == job_id).order_by(JobEvent.id)))
    phases = [p for i, p in enumerate(events) if i == 0 or events[i - 1] != p]
    assert phases == ["QUEUED", "HELD", "QUEUED", "EXECUTING", "COMPLETED"], events


def test_a_held_report_before_the_release_is_carried_out_leaves_the_job_queued(held_condor):
    parts, dispatcher, schedd = held_condor
    job_id, backend_id = _held_job(parts, dispatcher, schedd)
    parts.jobs.run(ANONYMOUS, "echo", job_id)
    dispatcher.follow_active()  # the poll of a tick whose release step already ran
    assert _phase(parts, job_id) == "QUEUED"
    assert _release_requested(parts, job_id)
    dispatcher.tick()
    assert schedd.queue[backend_id]["JobStatus"] == 1
    assert _phase(parts, job_id) == "QUEUED"


def test_a_release_the_schedd_refuses_is_not_retried_and_the_job_is_held_again(held_condor):
    parts, dispatcher, schedd = held_condor
    job_id, backend_id = _held_job(parts, dispatcher, schedd)
    schedd.denied.add("Release")
    parts.jobs.run(ANONYMOUS, "echo", job_id)
    acts = schedd.calls.count("act")
    for _ in range(3):
        dispatcher.tick()
    assert schedd.calls.count("act") == acts + 1  # asked once, refused, never asked again
    assert not _release_requested(parts, job_id)
    assert schedd.queue[backend_id]["JobStatus"] == 5
    assert _phase(parts, job_id) == "HELD"
    schedd.denied.clear()
    parts.jobs.run(ANONYMOUS, "echo", job_id)  # the client tries again, and it works now
    dispatcher.tick()
    assert schedd.queue[backend_id]["JobStatus"] == 1
    assert _phase(parts, job_id) == "QUEUED"


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
