"""The executor against the fake schedd: submit, poll, reconcile, find, orphans, crashes."""

from __future__ import annotations

import time

import pytest

from tests.htcondor.conftest import handle_for
from uws_server.executors.base import BackendState, ExecutorError
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings


def poll_one(executor, spec, backend_id, cursor=None):
    return executor.poll({spec.job_id: handle_for(spec, backend_id, cursor)})[spec.job_id]


def test_submit_returns_cluster_dot_proc_and_tags_the_job(executor, fake, spec_factory):
    spec = spec_factory()
    backend_id = executor.submit(spec, "tok-1").backend_id
    assert backend_id == "100.0"
    ad = fake.queue[backend_id]
    assert (ad["UwsJobId"], ad["UwsSubmitToken"], ad["UwsService"]) == (
        "a1b2c3",
        "tok-1",
        "uws-test",
    )
    assert ad["UwsMaxDuration"] == 600


def test_a_job_goes_through_queued_executing_completed(executor, fake, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    status = poll_one(executor, spec, bid)
    assert status.state is BackendState.QUEUED
    fake.start(bid)
    status = poll_one(executor, spec, bid, status.cursor)
    assert status.state is BackendState.EXECUTING and status.started_at is not None
    fake.terminate(bid, exit_code=0)
    status = poll_one(executor, spec, bid, status.cursor)
    assert status.state is BackendState.COMPLETED and status.exit_code == 0
    assert status.ended_at is not None


def test_non_zero_exit_is_failed_not_a_system_failure(executor, fake, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    fake.start(bid)
    fake.terminate(bid, exit_code=7)
    status = poll_one(executor, spec, bid)
    assert (status.state, status.exit_code, status.system_failure) == (
        BackendState.FAILED,
        7,
        False,
    )


def test_suspension_is_reported(executor, fake, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    fake.start(bid)
    fake.suspend(bid)
    assert poll_one(executor, spec, bid).state is BackendState.SUSPENDED
    fake.unsuspend(bid)
    assert poll_one(executor, spec, bid).state is BackendState.EXECUTING


def test_cancel_removes_with_the_service_reason(executor, fake, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    fake.start(bid)
    executor.cancel(spec.job_id, handle_for(spec, bid))
    assert bid not in fake.queue
    status = poll_one(executor, spec, bid)
    assert status.state is BackendState.CANCELLED and status.cancelled_by_service


def test_removal_by_someone_else_is_cancelled_with_their_reason(executor, fake, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    fake.remove(bid, "via condor_rm (by user admin)")
    status = poll_one(executor, spec, bid)
    assert status.state is BackendState.CANCELLED and not status.cancelled_by_service
    assert status.reason == "via condor_rm (by user admin)"


def test_duration_policy_removal_is_timed_out(executor, fake, spec_factory):
    spec = spec_factory(execution_duration=60)
    bid = executor.submit(spec, "t").backend_id
    now = time.time()
    fake.start(bid, when=now - 30)
    assert fake.tick(now) == []
    executor.update_duration(spec.job_id, handle_for(spec, bid), 10)
    assert fake.queue[bid]["UwsMaxDuration"] == 10
    assert fake.tick(now) == [bid]
    assert poll_one(executor, spec, bid).state is BackendState.TIMED_OUT


def test_user_hold_is_held_and_left_in_the_queue(executor, fake, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    fake.hold(bid, 1, "via condor_hold (by user admin)")
    status = poll_one(executor, spec, bid)
    assert status.state is BackendState.HELD
    assert bid in fake.queue and "act" not in fake.calls


def test_system_hold_fails_with_the_hold_reason_and_removes_the_job_once(
    executor, fake, spec_factory
):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    reason = "Transfer input files failure: inputs/data.txt not found"
    fake.hold(bid, 13, reason)
    first = poll_one(executor, spec, bid)
    assert first.state is BackendState.FAILED and first.system_failure
    assert first.reason == reason
    assert bid not in fake.queue
    assert fake.history_ads[-1]["RemoveReason"].endswith(reason)
    again = poll_one(executor, spec, bid, first.cursor)
    assert (again.state, again.reason, again.system_failure) == (BackendState.FAILED, reason, True)
    replay = poll_one(executor, spec, bid, None)  # from the start: the same answer
    assert (replay.state, replay.reason) == (BackendState.FAILED, reason)
    assert fake.calls.count("act") == 1


def test_a_job_without_event_log_is_followed_through_queue_and_history(
    executor, fake, clock, spec_factory
):
    fake.write_events = False
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    assert poll_one(executor, spec, bid).state is BackendState.QUEUED
    fake.start(bid)
    clock.advance(61)
    assert poll_one(executor, spec, bid).state is BackendState.EXECUTING
    fake.terminate(bid, exit_code=0)
    clock.advance(61)
    status = poll_one(executor, spec, bid)
    assert status.state is BackendState.COMPLETED
    assert "history" in fake.calls


def test_reconciliation_runs_about_once_a_minute_not_every_poll(
    executor, fake, clock, spec_factory
):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    for _ in range(10):
        poll_one(executor, spec, bid)
        clock.advance(1)
    assert fake.calls.count("query") == 1
    clock.advance(60)
    poll_one(executor, spec, bid)
    assert fake.calls.count("query") == 2


def test_a_job_gone_from_queue_and_history_is_unknown(executor, fake, clock, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    fake.start(bid)
    status = poll_one(executor, spec, bid)
    fake.vanish(bid)
    clock.advance(61)
    assert poll_one(executor, spec, bid, status.cursor).state is BackendState.UNKNOWN


def test_history_outranks_a_stale_event_log(executor, fake, clock, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    fake.start(bid)
    fake.write_events = False  # the log stops (deleted, unwritable...)
    fake.terminate(bid, exit_code=0)
    clock.advance(61)
    assert poll_one(executor, spec, bid).state is BackendState.COMPLETED


def test_find_looks_in_the_queue_then_in_the_history(executor, fake, spec_factory):
    spec = spec_factory()
    bid = executor.submit(spec, "tok-9").backend_id
    assert executor.find(spec.job_id, "tok-9") == bid
    assert executor.find(spec.job_id, "other-token") is None
    fake.start(bid)
    fake.terminate(bid)
    assert executor.find(spec.job_id, "tok-9") == bid


def test_find_ignores_jobs_of_another_service(fake, spec_factory):
    spec = spec_factory()
    other = HTCondorExecutor(service="someone-else", schedd=fake)
    HTCondorExecutor(service="uws-test", schedd=fake).submit(spec, "tok")
    assert other.find(spec.job_id, "tok") is None


def test_a_spec_tagged_for_another_service_is_refused(fake, spec_factory):
    executor = HTCondorExecutor(service="someone-else", schedd=fake)
    with pytest.raises(ExecutorError) as caught:
        executor.submit(spec_factory(), "tok")
    assert not caught.value.transient and not fake.queue


def test_crash_after_the_schedd_accepted_adopts_the_job_and_submits_once(
    executor, fake, spec_factory
):
    spec = spec_factory()
    fake.fail_next = "after_accept"
    backend_id = executor.submit(spec, "tok").backend_id  # adopted, not resubmitted
    assert backend_id == "100.0"
    assert fake.calls.count("submit") == 1
    assert len(fake.queue) == 1
    # and the dispatcher's own recovery after a real crash finds the same job
    assert executor.find(spec.job_id, "tok") == backend_id


def test_crash_before_the_schedd_accepted_finds_nothing_so_resubmission_happens_once(
    executor, fake, spec_factory
):
    spec = spec_factory()
    fake.fail_next = "before_accept"
    with pytest.raises(ExecutorError) as caught:
        executor.submit(spec, "tok")
    assert caught.value.transient
    assert executor.find(spec.job_id, "tok") is None  # the dispatcher's check
    assert executor.submit(spec, "tok2").backend_id
    assert len(fake.queue) == 1


def test_orphans_are_our_jobs_with_unknown_uws_ids(executor, fake, spec_factory):
    known = executor.submit(spec_factory("known1"), "t").backend_id
    orphan = executor.submit(spec_factory("lost99"), "t").backend_id
    theirs = spec_factory("theirs", service="someone-else")
    HTCondorExecutor(service="someone-else", schedd=fake).submit(theirs, "t")
    assert executor.orphans(["known1"]) == [orphan]
    assert known not in executor.orphans(["known1"])
    executor.remove_orphan(orphan)
    assert orphan not in fake.queue
    assert fake.history_ads[-1]["RemoveReason"] == "uws-server: orphan job (unknown UWS job id)"
    assert executor.orphans(["known1"]) == []


def test_bulk_submission_is_one_cluster_in_spec_order(executor, fake, spec_factory):
    specs = [spec_factory(f"bulk{i}", argv=("/bin/echo", f"n={i}")) for i in range(3)]
    subs = executor.submit_many(specs, ["t0", "t1", "t2"])
    assert [s.backend_id for s in subs] == ["100.0", "100.1", "100.2"]
    assert fake.calls.count("submit") == 1
    for i, sub in enumerate(subs):
        ad = fake.queue[sub.backend_id]
        assert (ad["UwsJobId"], ad["UwsSubmitToken"]) == (f"bulk{i}", f"t{i}")
        assert ad["Arguments"] == f'"n={i}"'
    fake.start("100.1")
    handles = {s.job_id: handle_for(s, b.backend_id) for s, b in zip(specs, subs, strict=True)}
    statuses = executor.poll(handles)
    assert statuses["bulk1"].state is BackendState.EXECUTING
    assert statuses["bulk0"].state is BackendState.QUEUED


def test_bulk_crash_after_accept_adopts_every_job(executor, fake, spec_factory):
    specs = [spec_factory(f"bulk{i}") for i in range(2)]
    fake.fail_next = "after_accept"
    subs = executor.submit_many(specs, ["t0", "t1"])
    assert [s.backend_id for s in subs] == ["100.0", "100.1"]
    assert fake.calls.count("submit") == 1


def test_non_transient_refusals_are_not_retried(executor, fake, spec_factory):
    spec = spec_factory(argv=("/bin/echo", "$(DOLLAR)"))
    with pytest.raises(ExecutorError) as caught:
        executor.submit(spec, "t")
    assert not caught.value.transient
    assert "submit" not in fake.calls


def test_settings_from_environment():
    settings = HTCondorSettings.from_env(
        {
            "UWS_HTCONDOR_SCHEDD": "ap.example.org",
            "UWS_HTCONDOR_COLLECTOR": "cm.example.org:9618",
            "UWS_HTCONDOR_SPOOL": "yes",
            "UWS_HTCONDOR_CALL_TIMEOUT": "7.5",
            "UWS_HTCONDOR_MAX_RETRIES": "2",
            "UWS_HTCONDOR_EXTRA_SUBMIT": 'requirements = OpSys == "LINUX"\naccounting_group = uws',
        }
    )
    assert settings.schedd_name == "ap.example.org" and settings.spool
    assert settings.call_timeout == 7.5 and settings.max_retries == 2
    assert settings.extra_submit == (
        ("requirements", 'OpSys == "LINUX"'),
        ("accounting_group", "uws"),
    )
    with pytest.raises(ValueError):
        HTCondorSettings.from_env({"UWS_HTCONDOR_FILE_MODE": "nfs"})
    with pytest.raises(ValueError):
        HTCondorSettings.from_env({"UWS_HTCONDOR_SPOOL": "maybe"})


def test_spool_mode_retrieves_outputs_before_reporting_completed(fake, clock, spec_factory):
    executor = HTCondorExecutor(
        HTCondorSettings(spool=True), service="uws-test", schedd=fake, clock=clock
    )
    spec = spec_factory()
    bid = executor.submit(spec, "t").backend_id
    fake.start(bid)
    fake.queue[bid]["JobStatus"] = 4  # completed, kept in the queue until retrieved
    fake.queue[bid]["ExitCode"] = 0
    assert poll_one(executor, spec, bid).state is BackendState.COMPLETED
    assert fake.retrieved == [bid]
