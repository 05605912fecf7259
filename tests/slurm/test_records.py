"""Parsing recorded squeue/sacct/scontrol outputs and mapping them to BackendStatus.

The files in ``data/`` were recorded from Slurm 22.05.8 (Debian 12) running
the scenario of comments ``uws:rec:<name>:...``: ``done`` (exit 0), ``fail``
(exit 3), ``sig`` (kill -9), ``canc`` (scancel), ``tout`` (time limit),
``run`` (running, later cancelled), ``held`` (--hold, later cancelled) and a
four-task array (pending, later cancelled). ``sacct.*`` come from a second run
with slurmdbd, where the array ran ``exit $SLURM_ARRAY_TASK_ID``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from uws_server.executors.base import BackendState
from uws_server.executors.slurm.records import (
    JobRecord,
    expand_tasks,
    json_version,
    parse_exit,
    parse_limit,
    parse_sacct_json,
    parse_sacct_text,
    parse_scontrol,
    parse_squeue_json,
    parse_squeue_text,
    split_wait_status,
)
from uws_server.executors.slurm.status import to_status

DATA = Path(__file__).parent / "data"


def by_name(records: list[JobRecord]) -> dict[str, JobRecord]:
    """Records keyed by the scenario name in their comment (array tasks by backend id)."""
    named = {}
    for record in records:
        name = (record.comment or "").split(":")[2]
        named[record.backend_id if record.array_job_id else name] = record
    return named


def states(records: list[JobRecord]) -> dict[str, BackendState]:
    return {key: to_status(r).state for key, r in by_name(records).items()}


ACTIVE_EXPECTED = {
    "done": BackendState.COMPLETED,
    "fail": BackendState.FAILED,
    "sig": BackendState.FAILED,
    "canc": BackendState.CANCELLED,
    "tout": BackendState.EXECUTING,
    "run": BackendState.EXECUTING,
    "held": BackendState.HELD,
    "20_0": BackendState.QUEUED,
    "20_1": BackendState.QUEUED,
    "20_2": BackendState.QUEUED,
    "20_3": BackendState.QUEUED,
}
FINAL_EXPECTED = {
    **ACTIVE_EXPECTED,
    "tout": BackendState.TIMED_OUT,
    "run": BackendState.CANCELLED,
    "held": BackendState.CANCELLED,
    "20_0": BackendState.CANCELLED,
    "20_1": BackendState.CANCELLED,
    "20_2": BackendState.CANCELLED,
    "20_3": BackendState.CANCELLED,
}


@pytest.mark.parametrize(
    ("parser", "filename", "expected"),
    [
        (parse_squeue_json, "active_squeue.json", ACTIVE_EXPECTED),
        (parse_scontrol, "active_scontrol_show_job.txt", ACTIVE_EXPECTED),
        (parse_squeue_json, "final_squeue.json", FINAL_EXPECTED),
        (parse_scontrol, "final_scontrol_show_job.txt", FINAL_EXPECTED),
    ],
)
def test_recorded_outputs_map_to_the_expected_states(parser, filename, expected):
    assert states(parser((DATA / filename).read_text())) == expected


@pytest.mark.parametrize("which", ["active", "final"])
def test_squeue_json_and_scontrol_text_agree_on_every_job(which):
    from_json = by_name(parse_squeue_json((DATA / f"{which}_squeue.json").read_text()))
    from_text = by_name(parse_scontrol((DATA / f"{which}_scontrol_show_job.txt").read_text()))
    assert from_json.keys() == from_text.keys()
    for key, record in from_json.items():
        a, b = to_status(record), to_status(from_text[key])
        assert (a.state, a.exit_code, a.reason, a.started_at) == (
            b.state,
            b.exit_code,
            b.reason,
            b.started_at,
        ), key


def test_failed_job_reports_its_exit_code_and_a_signalled_one_its_signal():
    records = by_name(parse_squeue_json((DATA / "final_squeue.json").read_text()))
    failed = to_status(records["fail"])
    assert failed.exit_code == 3
    assert "exit code 3" in failed.reason
    assert failed.system_failure is False
    killed = to_status(records["sig"])
    assert killed.exit_code is None
    assert "signal 9" in killed.reason and "SIGKILL" in killed.reason
    done = to_status(records["done"])
    assert done.exit_code == 0
    assert done.started_at == datetime(2026, 11, 24, 15, 27, 38, tzinfo=UTC)
    assert done.ended_at is not None and done.ended_at.tzinfo is UTC


def test_running_job_has_a_start_but_no_end_and_a_pending_one_neither():
    records = by_name(parse_scontrol((DATA / "active_scontrol_show_job.txt").read_text()))
    running = to_status(records["run"])
    assert running.started_at == datetime(2026, 11, 24, 15, 27, 46, tzinfo=UTC)
    assert running.ended_at is None
    pending = to_status(records["20_1"])
    assert (pending.started_at, pending.ended_at) == (None, None)


def test_folded_pending_array_record_is_expanded_into_one_record_per_task():
    records = parse_squeue_json((DATA / "final_squeue.json").read_text())
    tasks = sorted(r.backend_id for r in records if r.array_job_id == 20)
    assert tasks == ["20_0", "20_1", "20_2", "20_3"]


def test_squeue_text_format_gives_states_times_limits_and_comments():
    records = {r.backend_id: r for r in parse_squeue_text((DATA / "active_squeue.txt").read_text())}
    assert sorted(records) == ["17", "18", "19", "20_0", "20_1", "20_2", "20_3"]
    assert to_status(records["19"]).state is BackendState.HELD
    assert to_status(records["20_2"]).state is BackendState.QUEUED
    assert records["20_2"].comment == "uws:rec:a0:1111,a1:2222,a2:3333,a3:4444"
    assert records["17"].time_limit == 5
    assert records["18"].time_limit is None
    assert to_status(records["18"]).started_at == datetime(2026, 11, 24, 15, 27, 46, tzinfo=UTC)


def test_sacct_text_gives_final_states_exit_codes_and_array_tasks():
    records = {r.backend_id: r for r in parse_sacct_text((DATA / "sacct.txt").read_text())}
    assert to_status(records["1"]).state is BackendState.COMPLETED
    assert to_status(records["2"]).exit_code == 3
    assert "signal 9" in to_status(records["3"]).reason
    assert to_status(records["4"]).state is BackendState.CANCELLED  # "CANCELLED by 0"
    assert to_status(records["5"]).state is BackendState.TIMED_OUT
    assert [to_status(records[f"6_{i}"]).exit_code for i in range(3)] == [0, 1, 2]
    assert to_status(records["10_2"]).state is BackendState.TIMED_OUT
    assert records["6_1"].comment == "uws:rec:a0:1111,a1:2222,a2:3333"


def test_sacct_json_of_22_05_gives_states_comments_and_array_tasks_like_the_text():
    from_json = {r.backend_id: r for r in parse_sacct_json((DATA / "sacct.json").read_text())}
    from_text = {r.backend_id: r for r in parse_sacct_text((DATA / "sacct.txt").read_text())}
    assert from_json.keys() == from_text.keys()
    for key, record in from_json.items():
        other = from_text[key]
        assert (record.state, record.comment, record.started_at, record.ended_at) == (
            other.state,
            other.comment,
            other.started_at,
            other.ended_at,
        ), key
    assert json_version((DATA / "sacct.json").read_text()) == (22, 5)


def test_sacct_json_in_the_23_02_shape_is_understood():
    text = """{"meta": {"slurm": {"version": {"major": "23", "minor": "02"}}}, "jobs": [
      {"job_id": 41, "array": {"job_id": 40, "task_id": {"set": true, "number": 1}},
       "state": {"current": ["FAILED"], "reason": "None"},
       "exit_code": {"status": ["EXITED"], "return_code": {"set": true, "number": 3},
                     "signal": {"id": {"set": false, "number": 0}}},
       "time": {"start": 1795534176, "end": 1795534180, "limit": {"set": true, "number": 5}},
       "comment": {"job": "uws:svc:j:t"}}]}"""
    (record,) = parse_sacct_json(text)
    assert record.backend_id == "40_1"
    assert (record.state, record.exit_code, record.time_limit) == ("FAILED", 3, 5)
    assert json_version(text) == (23, 2)


@pytest.mark.parametrize(
    ("state", "expected", "system_failure", "reason_part"),
    [
        ("PENDING", BackendState.QUEUED, False, None),
        ("CONFIGURING", BackendState.QUEUED, False, None),
        ("RUNNING", BackendState.EXECUTING, False, None),
        ("COMPLETING", BackendState.EXECUTING, False, None),
        ("SUSPENDED", BackendState.SUSPENDED, False, None),
        ("COMPLETED", BackendState.COMPLETED, False, None),
        ("FAILED", BackendState.FAILED, False, "exit code 1"),
        ("OUT_OF_MEMORY", BackendState.FAILED, False, "out of memory"),
        ("NODE_FAIL", BackendState.FAILED, True, "NODE_FAIL"),
        ("BOOT_FAIL", BackendState.FAILED, True, "BOOT_FAIL"),
        ("PREEMPTED", BackendState.FAILED, True, "preempted"),
        ("TIMEOUT", BackendState.TIMED_OUT, False, "time limit"),
        ("DEADLINE", BackendState.TIMED_OUT, False, "deadline"),
        ("CANCELLED", BackendState.CANCELLED, False, "someone else"),
        ("SOMETHING_NEW", BackendState.UNKNOWN, False, "SOMETHING_NEW"),
    ],
)
def test_slurm_states_map_onto_backend_states(state, expected, system_failure, reason_part):
    status = to_status(JobRecord(job_id=1, state=state, exit_code=1, signal=0))
    assert status.state is expected
    assert status.system_failure is system_failure
    if reason_part:
        assert reason_part in status.reason


def test_cancellation_is_the_services_only_when_its_marker_was_found():
    record = JobRecord(job_id=1, state="CANCELLED", exit_code=0, signal=15)
    assert to_status(record, cancelled_by_service=True).cancelled_by_service is True
    assert to_status(record, cancelled_by_service=False).cancelled_by_service is False
    running = JobRecord(job_id=1, state="RUNNING")
    assert to_status(running, cancelled_by_service=True).cancelled_by_service is False


def test_a_held_pending_job_is_held_with_its_reason():
    status = to_status(JobRecord(job_id=1, state="PENDING", reason="JobHeldAdmin"))
    assert (status.state, status.reason) == (BackendState.HELD, "JobHeldAdmin")


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("PENDING", "JobHeldUser"),  # sbatch --hold, scontrol hold as the job's user
        ("PENDING", "JobHoldMaxRequeue"),  # requeued too often: held until released
        ("PENDING", "job requeued in held state"),  # text squeue: the job's description
        ("PENDING", "job_requeued_in_held_state"),  # the same in scontrol show job
        ("PENDING", "launch failed requeued held"),
        ("PENDING", "launch_failed_requeued_held"),
        ("REQUEUE_HOLD", None),
        ("RESV_DEL_HOLD", "ReservationDeleted"),  # its reservation was deleted
    ],
)
def test_every_way_slurm_says_a_job_waits_for_a_release_is_held(state, reason):
    status = to_status(JobRecord(job_id=1, state=state, reason=reason))
    assert (status.state, status.reason) == (BackendState.HELD, reason)


@pytest.mark.parametrize(
    "reason", ["Resources", "Priority", "BeginTime", "Dependency", "ReqNodeNotAvail", None]
)
def test_a_pending_job_waiting_for_the_scheduler_is_queued_not_held(reason):
    assert to_status(JobRecord(job_id=1, state="PENDING", reason=reason)).state is (
        BackendState.QUEUED
    )


def test_a_running_job_whose_reason_mentions_held_is_executing():
    record = JobRecord(job_id=1, state="RUNNING", reason="launch failed requeued held")
    assert to_status(record).state is BackendState.EXECUTING


@pytest.mark.parametrize(
    ("text", "tasks"),
    [
        ("3", [3]),
        ("0-3", [0, 1, 2, 3]),
        ("0,2-3", [0, 2, 3]),
        ("1-7:3%2", [1, 4, 7]),
        ("[4-5]", [4, 5]),
    ],
)
def test_array_task_strings_expand(text, tasks):
    assert expand_tasks(text) == tasks


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("UNLIMITED", None),
        ("Partition_Limit", None),
        ("5", 5),
        ("00:01:00", 1),
        ("1:00", 1),
        ("01:00:30", 61),
        ("2-00:00:00", 2880),
        ("1-02:03", 1563),
    ],
)
def test_time_limits_parse_to_minutes(text, minutes):
    assert parse_limit(text) == minutes


def test_exit_pairs_and_wait_statuses_split_into_code_and_signal():
    assert parse_exit("3:0") == (3, 0)
    assert parse_exit("0:15") == (0, 15)
    assert parse_exit("N/A") == (None, None)
    assert split_wait_status(768) == (3, 0)
    assert split_wait_status(9) == (0, 9)
