"""Issue 15 item 2: a dispatcher paused past its lease never submits a job its successor took.

Two real dispatchers (each with its own local executor, real processes) on
one database. Dispatcher A is stopped in the middle of its tick (its thread
blocks where a SIGSTOP could have caught it), its lease lapses as 30 s of
pause would make it, dispatcher B takes over; then A resumes. The ``append``
job's program counts its runs.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from tests.hardening.dispatch_kit import runs, wait_until, write_manifests
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.local.executor import LocalExecutor
from uws_server.identity import ANONYMOUS
from uws_server.jobtypes import service as jobtypes
from uws_server.models import DispatcherLease, Job
from uws_server.timeutil import utcnow
from uws_server.wiring import Components


def _setup(parts: Components, tmp_path: Path) -> tuple[str, Dispatcher, Dispatcher]:
    with parts.db.write() as session:
        jobtypes.load_directory(session, write_manifests(tmp_path / "manifests"))
    job = parts.jobs.create(ANONYMOUS, "append", [("seconds", "0"), ("PHASE", "RUN")], {})
    first = Dispatcher(parts, LocalExecutor(parts.settings.jobs_dir, 2))
    second = Dispatcher(parts, LocalExecutor(parts.settings.jobs_dir, 2))
    return job.id, first, second


def _lapse_lease(parts: Components) -> None:
    """What 30 s of SIGSTOP do to the holder's lease."""
    with parts.db.write() as session:
        session.execute(update(DispatcherLease).values(expires_at=utcnow() - timedelta(1)))


def _job(parts: Components, job_id: str) -> Job:
    with parts.db.read() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _paused_in(dispatcher: Dispatcher, *, before_claim: bool
               ) -> tuple[threading.Event, threading.Event]:
    """Make the dispatcher's next claim stop (before or after it commits) until resumed."""
    paused, resume = threading.Event(), threading.Event()
    real_claim = dispatcher.submitter._claim

    def claim(job_id: str, token: str) -> object:
        if before_claim:
            paused.set()
            assert resume.wait(60)
        result = real_claim(job_id, token)
        if not before_claim:
            paused.set()
            assert resume.wait(60)
        return result

    dispatcher.submitter._claim = claim  # type: ignore[method-assign]
    return paused, resume


def _tick_until_final(parts: Components, dispatcher: Dispatcher, job_id: str) -> str:
    def final() -> bool:
        dispatcher.tick()
        return _job(parts, job_id).phase in ("COMPLETED", "ERROR")

    assert wait_until(final, 60)
    return _job(parts, job_id).phase


def test_a_holder_paused_after_claiming_a_job_never_reaches_the_backend(components, tmp_path):
    job_id, first, second = _setup(components, tmp_path)
    paused, resume = _paused_in(first, before_claim=False)
    tick = threading.Thread(target=first.tick)
    tick.start()
    try:
        assert paused.wait(30)  # claimed (token committed), not yet submitted
        _lapse_lease(components)
        assert _tick_until_final(components, second, job_id) == "COMPLETED"
    finally:
        resume.set()
        tick.join(30)
    assert not tick.is_alive()
    assert first.executor._children == {}  # the stale holder started nothing
    assert not first.has_lease
    assert runs(components.storage.job_dir(job_id)) == 1
    second.tick()
    assert _job(components, job_id).phase == "COMPLETED"


def test_a_holder_paused_before_claiming_writes_nothing_once_resumed(components, tmp_path):
    job_id, first, second = _setup(components, tmp_path)
    paused, resume = _paused_in(first, before_claim=True)
    tick = threading.Thread(target=first.tick)
    tick.start()
    try:
        assert paused.wait(30)  # lease renewed at the start of the tick, claim not begun
        _lapse_lease(components)
        assert second.lease.renew()  # the successor holds the lease, has not submitted yet
    finally:
        resume.set()
        tick.join(30)
    job = _job(components, job_id)
    assert (job.submit_token, job.tries, job.phase) == (None, 0, "QUEUED")
    assert first.executor._children == {}
    assert _tick_until_final(components, second, job_id) == "COMPLETED"
    assert runs(components.storage.job_dir(job_id)) == 1


def test_each_takeover_of_the_lease_raises_its_epoch(components):
    first = Dispatcher(components, LocalExecutor(components.settings.jobs_dir, 1))
    second = Dispatcher(components, LocalExecutor(components.settings.jobs_dir, 1))
    assert first.lease.renew() and first.lease.renew()
    assert first.lease.epoch == 1  # renewing keeps it
    assert not second.lease.renew()  # standing by while the lease is valid
    _lapse_lease(components)
    assert second.lease.renew()
    assert second.lease.epoch == 2
    assert not first.lease.confirm()  # the old holder's epoch is stale
    assert not first.lease.renew()
