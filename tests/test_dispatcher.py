"""The dispatcher: idempotent submission across crashes, reconciliation, reaping, limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.fakes import FakeBackend, FakeExecutor, SimulatedCrash
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.base import BackendState
from uws_server.identity import ANONYMOUS
from uws_server.models import DispatcherLease, Job, JobEvent, JobType
from uws_server.timeutil import utcnow
from uws_server.wiring import Components, build_components


def _new_dispatcher(parts: Components, backend: FakeBackend, **kwargs: int) -> Dispatcher:
    """A dispatcher as a freshly started process would make it (after any crash)."""
    dispatcher = Dispatcher(parts, FakeExecutor(backend, **kwargs))
    with parts.db.write() as session:  # the crashed holder is gone: its lease lapses
        session.execute(update(DispatcherLease).values(expires_at=utcnow() - timedelta(1)))
    return dispatcher


def _holding_lease(dispatcher: Dispatcher) -> Dispatcher:
    """The dispatcher once it took the lease (as its first tick would), to call one step."""
    assert dispatcher.lease.renew()
    return dispatcher


def _queued_echo(parts: Components, message: str = "hi") -> str:
    job = parts.jobs.create(ANONYMOUS, "echo", [("message", message), ("PHASE", "RUN")], {})
    return job.id


def _phase(parts: Components, job_id: str) -> str:
    return parts.jobs.get(ANONYMOUS, "echo", job_id).phase


def test_queued_job_is_submitted_once_and_completes(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    assert len(backend.submissions_for(job_id)) == 1
    dispatcher.executor.start(job_id)
    dispatcher.tick()
    assert _phase(components, job_id) == "EXECUTING"
    dispatcher.executor.finish(job_id)
    dispatcher.tick()
    job = components.jobs.get(ANONYMOUS, "echo", job_id)
    assert job.phase == "COMPLETED"
    assert next(r.result_id for r in job.results) == "result"
    assert len(backend.submissions_for(job_id)) == 1


def test_crash_after_backend_accepted_adopts_the_job_instead_of_submitting_again(components):
    backend = FakeBackend(crash_after_accept=True)
    job_id = _queued_echo(components)
    with pytest.raises(SimulatedCrash):
        _holding_lease(_new_dispatcher(components, backend)).submit_queued()
    restarted = _new_dispatcher(components, backend)
    restarted.tick()
    restarted.tick()
    assert len(backend.submissions_for(job_id)) == 1
    with components.db.read() as session:
        job = session.get(Job, job_id)
        assert job.backend_id == backend.submissions_for(job_id)[0].backend_id
    restarted.executor.finish(job_id)
    restarted.tick()
    assert _phase(components, job_id) == "COMPLETED"


def test_crash_before_backend_accepted_submits_exactly_once_after_restart(components):
    backend = FakeBackend(crash_before_accept=True)
    job_id = _queued_echo(components)
    with pytest.raises(SimulatedCrash):
        _holding_lease(_new_dispatcher(components, backend)).submit_queued()
    assert backend.submissions_for(job_id) == []
    restarted = _new_dispatcher(components, backend)
    restarted.tick()
    restarted.tick()
    assert len(backend.submissions_for(job_id)) == 1


def test_unavailable_backend_leaves_the_job_queued_and_loses_nothing(components):
    backend = FakeBackend(unavailable=True)
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    assert _phase(components, job_id) == "QUEUED"
    backend.unavailable = False
    dispatcher.tick()
    dispatcher.tick()
    assert len(backend.submissions_for(job_id)) == 1


def test_abort_cancels_the_backend_job(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    components.jobs.abort(ANONYMOUS, "echo", job_id)
    dispatcher.tick()
    assert backend.submissions_for(job_id)[0].state is BackendState.CANCELLED
    assert _phase(components, job_id) == "ABORTED"


def test_abort_during_an_interrupted_submission_still_cancels_the_backend_job(components):
    backend = FakeBackend(crash_after_accept=True)
    job_id = _queued_echo(components)
    with pytest.raises(SimulatedCrash):
        _holding_lease(_new_dispatcher(components, backend)).submit_queued()
    components.jobs.abort(ANONYMOUS, "echo", job_id)
    _new_dispatcher(components, backend).tick()
    assert backend.submissions_for(job_id)[0].state is BackendState.CANCELLED


def test_deleted_running_job_is_cancelled_and_its_directory_removed(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    job_dir = components.storage.job_dir(job_id)
    assert job_dir.is_dir()
    components.jobs.delete(ANONYMOUS, "echo", job_id)
    dispatcher.tick()
    assert backend.submissions_for(job_id)[0].state is BackendState.CANCELLED
    assert not job_dir.exists()
    with components.db.read() as session:
        assert session.get(Job, job_id) is None


def test_system_failure_is_retried_but_a_nonzero_exit_is_not(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    failing = _queued_echo(components)
    dispatcher.tick()
    dispatcher.executor.finish(failing, exit_code=2)
    dispatcher.tick()
    job = components.jobs.get(ANONYMOUS, "echo", failing)
    assert job.phase == "ERROR"
    assert "Bad arguments" in job.error_message  # the manifest's error for exit code 2
    assert len(backend.submissions_for(failing)) == 1

    lost = _queued_echo(components)
    dispatcher.tick()
    backend.submissions_for(lost)[0].state = BackendState.FAILED
    original = dispatcher.executor.poll

    def node_failure(handles):
        report = original(handles)
        return {k: type(v)(v.state, reason="node failure", system_failure=True)
                for k, v in report.items()}

    dispatcher.executor.poll = node_failure
    dispatcher.tick()
    dispatcher.executor.poll = original
    assert _phase(components, lost) == "QUEUED"
    dispatcher.tick()
    assert len(backend.submissions_for(lost)) == 2


def test_job_lost_by_the_backend_errors_after_the_grace_period(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    backend.jobs.clear()  # vanished from queue and history
    dispatcher.tick()
    assert _phase(components, job_id) == "QUEUED"  # within the grace period
    with components.db.write() as session:
        session.execute(update(Job).where(Job.id == job_id)
                        .values(unknown_since=utcnow() - timedelta(hours=1)))
    dispatcher.tick()
    job = components.jobs.get(ANONYMOUS, "echo", job_id)
    assert job.phase == "ERROR"
    assert "lost track" in job.error_message


def test_jobs_past_their_destruction_time_are_destroyed(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    with components.db.write() as session:
        session.execute(update(Job).where(Job.id == job_id)
                        .values(destruction_time=utcnow() - timedelta(seconds=1)))
    dispatcher.tick()
    assert backend.submissions_for(job_id)[0].state is BackendState.CANCELLED
    with components.db.read() as session:
        assert session.get(Job, job_id) is None
    assert not components.storage.job_dir(job_id).exists()


def test_archive_policy_keeps_metadata_and_drops_results(components, tmp_path):
    parts = build_components(Settings(**{**components.settings.__dict__,
                                         "destruction_policy": "archive"}))
    backend = FakeBackend()
    dispatcher = _new_dispatcher(parts, backend)
    job_id = _queued_echo(parts)
    dispatcher.tick()
    dispatcher.executor.finish(job_id)
    dispatcher.tick()
    with parts.db.write() as session:
        session.execute(update(Job).where(Job.id == job_id)
                        .values(destruction_time=utcnow() - timedelta(seconds=1)))
    dispatcher.tick()
    job = parts.jobs.get(ANONYMOUS, "echo", job_id)
    assert job.phase == "ARCHIVED"
    assert job.results == []
    assert job_id not in [j.id for j in parts.jobs.list(ANONYMOUS, "echo")]
    from uws_server.phases import ExecutionPhase

    archived = parts.jobs.list(ANONYMOUS, "echo", phases=[ExecutionPhase.ARCHIVED])
    assert job_id in [j.id for j in archived]
    parts.bus.close()


def test_paused_job_type_keeps_its_jobs_queued(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    with components.db.write() as session:
        session.execute(update(JobType).where(JobType.name == "echo").values(is_paused=True))
    job_id = _queued_echo(components)
    dispatcher.tick()
    assert backend.submissions_for(job_id) == []
    with components.db.write() as session:
        session.execute(update(JobType).where(JobType.name == "echo").values(is_paused=False))
    dispatcher.tick()
    assert len(backend.submissions_for(job_id)) == 1


def test_max_scheduled_caps_running_jobs_of_a_type(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    with components.db.write() as session:
        session.execute(update(JobType).where(JobType.name == "echo").values(max_scheduled=1))
    first, second = _queued_echo(components), _queued_echo(components)
    dispatcher.tick()
    assert len(backend.jobs) == 1
    dispatcher.executor.finish(backend.jobs[0].job_id)
    dispatcher.tick()
    dispatcher.tick()
    assert {j.job_id for j in backend.jobs} == {first, second}


def test_higher_priority_jobs_are_submitted_first(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend, slots=1)
    low, high = _queued_echo(components), _queued_echo(components)
    with components.db.write() as session:
        session.execute(update(Job).where(Job.id == high).values(priority=10))
    dispatcher.tick()
    assert [j.job_id for j in backend.jobs] == [high]
    assert low not in [j.job_id for j in backend.jobs]


def test_every_phase_change_is_recorded_in_the_history(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    dispatcher.executor.start(job_id)
    dispatcher.tick()
    dispatcher.executor.finish(job_id)
    dispatcher.tick()
    with components.db.read() as session:
        events = list(session.scalars(select(JobEvent).where(JobEvent.job_id == job_id)
                                      .order_by(JobEvent.id)))
    assert [(e.from_phase, e.to_phase) for e in events] == [
        ("PENDING", "QUEUED"), ("QUEUED", "EXECUTING"), ("EXECUTING", "COMPLETED")]
    assert events[0].actor == "anonymous"
    assert events[-1].actor == "dispatcher"


def test_a_second_dispatcher_stands_by_while_the_first_holds_the_lease(components):
    backend = FakeBackend()
    first = _new_dispatcher(components, backend)
    first.tick()
    second = Dispatcher(components, FakeExecutor(backend))
    job_id = _queued_echo(components)
    second.tick()
    assert backend.submissions_for(job_id) == []
    first.tick()
    assert len(backend.submissions_for(job_id)) == 1


def test_changed_execution_duration_reaches_the_backend(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    components.jobs.set_execution_duration(ANONYMOUS, "echo", job_id, "42")
    dispatcher.tick()
    assert dispatcher.executor.durations[job_id] == 42


def test_run_on_a_held_job_releases_it_in_the_backend(components):
    from tests.fakes import HoldingFakeExecutor

    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    dispatcher.executor = HoldingFakeExecutor(backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    dispatcher.executor.hold(job_id)
    dispatcher.tick()
    assert _phase(components, job_id) == "HELD"
    components.jobs.run(ANONYMOUS, "echo", job_id)
    assert _phase(components, job_id) == "QUEUED"
    dispatcher.tick()
    assert dispatcher.executor.released == [job_id]
    dispatcher.executor.finish(job_id)
    dispatcher.tick()
    assert _phase(components, job_id) == "COMPLETED"
    assert len(backend.submissions_for(job_id)) == 1


def test_backend_jobs_no_uws_job_knows_are_cancelled_as_orphans(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    dispatcher.tick()
    stray = backend.submissions_for(job_id)[0]
    stray.job_id = "f" * 32  # a submission whose UWS job was destroyed before it was recorded
    dispatcher._next_orphan_check = 0.0
    dispatcher.tick()
    assert stray.state is BackendState.CANCELLED


def test_a_crowd_of_paused_high_priority_jobs_does_not_starve_other_types(components):
    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend, slots=1)
    with components.db.write() as session:
        session.execute(update(JobType).where(JobType.name == "sleep").values(is_paused=True))
    for _ in range(60):
        components.jobs.create(ANONYMOUS, "sleep", [("seconds", "1"), ("PHASE", "RUN")], {})
    with components.db.write() as session:
        session.execute(update(Job).where(Job.job_type_name == "sleep").values(priority=10))
    job_id = _queued_echo(components)
    dispatcher.tick()
    assert [j.job_id for j in backend.jobs] == [job_id]


def test_job_directories_no_job_owns_are_swept_once_they_are_old(components):
    import os
    import time as clock

    backend = FakeBackend()
    dispatcher = _new_dispatcher(components, backend)
    job_id = _queued_echo(components)
    stray_old = components.storage.create("b" * 32)
    stray_new = components.storage.create("c" * 32)
    hours_ago = clock.time() - 7200
    os.utime(stray_old, (hours_ago, hours_ago))
    dispatcher._next_orphan_check = 0.0
    dispatcher.tick()
    assert not stray_old.exists()
    assert stray_new.exists()  # may be a job being created right now
    assert components.storage.job_dir(job_id).exists()


def test_end_time_is_never_before_start_time_whatever_the_backend_reports(components):
    """A backend's end time can precede the start the dispatcher stamped when it first saw
    the job running (two clocks, a short job): the job document must still read start <= end."""
    from datetime import timedelta

    from uws_server.identity import UNAUTHENTICATED_OPERATOR
    from uws_server.models import Job
    from uws_server.phases import ExecutionPhase
    from uws_server.services.transitions import transition

    job = components.jobs.create(UNAUTHENTICATED_OPERATOR, "echo", [("message", "x")], {})
    with components.db.write() as session:
        row = session.get(Job, job.id)
        transition(session, row, ExecutionPhase.QUEUED, actor="test")
        transition(session, row, ExecutionPhase.EXECUTING, actor="test")
        started = row.start_time
        transition(session, row, ExecutionPhase.COMPLETED, actor="test",
                   end_time=started - timedelta(milliseconds=1))
    view = components.jobs.get(UNAUTHENTICATED_OPERATOR, "echo", job.id)
    assert view.start_time is not None and view.end_time is not None
    assert view.end_time >= view.start_time
