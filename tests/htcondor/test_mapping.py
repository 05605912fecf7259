"""Queue and history ads → status, and the hold-code table, as the reconciliation sees them."""

from __future__ import annotations

import pytest

from uws_server.executors.base import BackendState
from uws_server.executors.htcondor.mapping import ad_status, hold_action

T0 = 1_795_514_400


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (1, "held"),
        (15, "held"),
        (16, "queued"),
        (3, "failed"),
        (6, "failed"),
        (12, "failed"),
        (13, "failed"),
        (21, "failed"),
        (22, "failed"),
        (26, "failed"),
        (34, "failed"),
        (35, "failed"),
        (47, "failed"),
        (None, "failed"),
    ],
)
def test_hold_codes_map_to_held_queued_or_failed(code, action):
    assert hold_action(code) == action


@pytest.mark.parametrize(
    ("job_status", "state"),
    [
        (1, BackendState.QUEUED),
        (2, BackendState.EXECUTING),
        (6, BackendState.EXECUTING),
        (7, BackendState.SUSPENDED),
    ],
)
def test_live_job_statuses(job_status, state):
    assert ad_status({"JobStatus": job_status, "JobStartDate": T0}).state is state


def test_completed_with_exit_zero_reports_times_and_exit_code():
    status = ad_status(
        {
            "JobStatus": 4,
            "ExitCode": 0,
            "ExitBySignal": False,
            "JobStartDate": T0,
            "CompletionDate": T0 + 60,
        }
    )
    assert status.state is BackendState.COMPLETED and status.exit_code == 0
    assert (status.ended_at - status.started_at).total_seconds() == 60
    assert status.started_at.utcoffset().total_seconds() == 0


def test_completed_with_non_zero_exit_or_signal_fails():
    assert ad_status({"JobStatus": 4, "ExitCode": 2}).state is BackendState.FAILED
    status = ad_status({"JobStatus": 4, "ExitBySignal": True, "ExitSignal": 11})
    assert status.state is BackendState.FAILED and "signal 11" in status.reason


def test_held_ads_follow_the_hold_table():
    user = ad_status({"JobStatus": 5, "HoldReasonCode": 1, "HoldReason": "via condor_hold"})
    assert user.state is BackendState.HELD
    transfer = ad_status({"JobStatus": 5, "HoldReasonCode": 13, "HoldReason": "no file"})
    assert transfer.state is BackendState.FAILED and transfer.system_failure
    assert transfer.reason == "no file"


@pytest.mark.parametrize(
    ("reason", "state", "by_service"),
    [
        ("uws-server: aborted by the service", BackendState.CANCELLED, True),
        ("uws-server: execution duration exceeded", BackendState.TIMED_OUT, False),
        ("via condor_rm (by user admin)", BackendState.CANCELLED, False),
        ("uws-server: removed after hold: disk full", BackendState.FAILED, False),
    ],
)
def test_removed_ads_are_told_apart_by_their_remove_reason(reason, state, by_service):
    status = ad_status({"JobStatus": 3, "RemoveReason": reason, "EnteredCurrentStatus": T0})
    assert status.state is state
    assert status.cancelled_by_service is by_service
    assert status.ended_at is not None
