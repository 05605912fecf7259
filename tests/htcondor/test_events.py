"""Real event logs, in HTCondor's documented classic format, read with ``JobEventLog``.

Each log is written here by hand (header ``NNN (cluster.proc.subproc) date time
text``, indented detail lines, ``...`` terminator) and parsed by the real
bindings, then folded by the mapping the executor uses.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from uws_server.executors.base import BackendState
from uws_server.executors.htcondor.events import decode_cursor, read_events

USAGE = """\
\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage
\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage
\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Remote Usage
\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage
\t0  -  Run Bytes Sent By Job
\t0  -  Run Bytes Received By Job
\t0  -  Total Bytes Sent By Job
\t0  -  Total Bytes Received By Job"""

SUBMIT = """000 (042.000.000) 2026-11-24 10:00:00 Job submitted from host: <10.0.0.1:9618>
    uws job a1b2c3
..."""
INPUT_TRANSFER = """040 (042.000.000) 2026-11-24 10:00:01 Started transferring input files
\tTransferring to host: <10.0.0.2:9618?addrs=10.0.0.2-9618>
..."""
EXECUTE = """001 (042.000.000) 2026-11-24 10:00:02 Job executing on host: <10.0.0.2:9618>
\tSlotName: slot1_1@ep.example.org
..."""
EXECUTE_AGAIN = EXECUTE.replace("10:00:02", "10:00:30")
IMAGE_SIZE = """006 (042.000.000) 2026-11-24 10:00:10 Image size of job updated: 2500
\t3  -  MemoryUsage of job (MB)
\t2500  -  ResidentSetSize of job (KB)
..."""
CHECKPOINTED = """003 (042.000.000) 2026-11-24 10:00:11 Job was checkpointed.
\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage
\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage
..."""
SUSPENDED = """010 (042.000.000) 2026-11-24 10:00:12 Job was suspended.
\tNumber of processes actually suspended: 1
..."""
UNSUSPENDED = """011 (042.000.000) 2026-11-24 10:00:13 Job was unsuspended.
..."""
EVICTED = """004 (042.000.000) 2026-11-24 10:00:14 Job was evicted.
\t(0) Job was not checkpointed.
\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage
\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage
\t0  -  Run Bytes Sent By Job
\t0  -  Run Bytes Received By Job
..."""
SHADOW_EXCEPTION = """007 (042.000.000) 2026-11-24 10:00:15 Shadow exception!
\tError from slot1@ep.example.org: Failed to open standard output: Permission denied
\t0  -  Run Bytes Sent By Job
\t0  -  Run Bytes Received By Job
..."""
EXECUTABLE_ERROR = """002 (042.000.000) 2026-11-24 10:00:16 (1) Job file not executable.
..."""
OUTPUT_TRANSFER = """040 (042.000.000) 2026-11-24 10:00:58 Started transferring output files
..."""


def terminated(body: str, at: str = "10:01:00") -> str:
    return f"005 (042.000.000) 2026-11-24 {at} Job terminated.\n{body}\n{USAGE}\n..."


EXIT_0 = terminated("\t(1) Normal termination (return value 0)")
EXIT_3 = terminated("\t(1) Normal termination (return value 3)")
SIGNAL_9 = terminated("\t(0) Abnormal termination (signal 9)\n\t(0) No core file")


def held(code: int, reason: str, subcode: int = 0) -> str:
    return (
        f"012 (042.000.000) 2026-11-24 10:00:20 Job was held.\n\t{reason}\n"
        f"\tCode {code} Subcode {subcode}\n..."
    )


RELEASED = """013 (042.000.000) 2026-11-24 10:00:25 Job was released.
\tvia condor_release (by user uws)
..."""


def aborted(reason: str) -> str:
    return f"009 (042.000.000) 2026-11-24 10:00:40 Job was aborted.\n\t{reason}\n..."


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-24T{clock}").astimezone(UTC)


def fold_of(tmp_path, *events, cursor=None):
    path = tmp_path / "condor.log"
    path.write_text("\n".join(events) + "\n")
    result = read_events(path, "42.0", cursor)
    assert result is not None
    return result


def state_of(tmp_path, *events):
    return fold_of(tmp_path, *events)[0]


def test_submitted_and_transferring_input_is_queued(tmp_path):
    assert state_of(tmp_path, SUBMIT, INPUT_TRANSFER).state == BackendState.QUEUED.value


def test_executing_records_the_start_time(tmp_path):
    fold = state_of(tmp_path, SUBMIT, EXECUTE, IMAGE_SIZE, CHECKPOINTED)
    assert fold.state == BackendState.EXECUTING.value
    assert fold.started is not None


def test_start_time_is_the_first_execution(tmp_path):
    fold = state_of(tmp_path, SUBMIT, EXECUTE, EVICTED, EXECUTE_AGAIN)
    from uws_server.executors.htcondor.mapping import fold_status

    assert fold_status(fold, None).started_at == at("10:00:02")


def test_suspended_then_unsuspended(tmp_path):
    assert state_of(tmp_path, SUBMIT, EXECUTE, SUSPENDED).state == "suspended"
    assert state_of(tmp_path, SUBMIT, EXECUTE, SUSPENDED, UNSUSPENDED).state == "executing"


def test_evicted_or_shadow_exception_goes_back_to_the_queue(tmp_path):
    assert state_of(tmp_path, SUBMIT, EXECUTE, EVICTED).state == "queued"
    fold = state_of(tmp_path, SUBMIT, EXECUTE, SHADOW_EXCEPTION)
    assert fold.state == "queued"
    assert "Permission denied" in fold.reason


def test_transferring_output_is_still_executing(tmp_path):
    assert state_of(tmp_path, SUBMIT, EXECUTE, OUTPUT_TRANSFER).state == "executing"


def test_exit_zero_completes_with_exit_code_and_end_time(tmp_path):
    from uws_server.executors.htcondor.mapping import fold_status

    status = fold_status(state_of(tmp_path, SUBMIT, EXECUTE, OUTPUT_TRANSFER, EXIT_0), None)
    assert status.state is BackendState.COMPLETED
    assert status.exit_code == 0
    assert status.started_at == at("10:00:02")
    assert status.ended_at == at("10:01:00")
    assert status.ended_at.tzinfo is not None


def test_non_zero_exit_fails_as_the_jobs_own_fault(tmp_path):
    fold = state_of(tmp_path, SUBMIT, EXECUTE, EXIT_3)
    assert (fold.state, fold.exit_code, fold.system_failure) == ("failed", 3, False)
    assert "code 3" in fold.reason


def test_killed_by_signal_fails_with_the_signal_in_the_reason(tmp_path):
    fold = state_of(tmp_path, SUBMIT, EXECUTE, SIGNAL_9)
    assert fold.state == "failed" and fold.exit_code is None
    assert "signal 9" in fold.reason


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (13, "Transfer input files failure at execution point slot1@ep: file not found"),
        (12, "Transfer output files failure: outputs does not exist"),
        (35, "Cannot pull container image docker://nope"),
        (3, "The job attribute PeriodicHold expression 'MemoryUsage > 1000' evaluated to TRUE"),
        (6, "Failed to execute '/bin/nope': No such file or directory"),
        (34, "Job used more memory than requested"),
    ],
)
def test_system_holds_fail_with_the_hold_reason_and_ask_for_removal(tmp_path, code, reason):
    fold = state_of(tmp_path, SUBMIT, EXECUTE, held(code, reason))
    assert fold.state == "failed"
    assert fold.reason == reason
    assert fold.hold_code == code
    assert fold.system_failure and fold.needs_removal


def test_removal_after_a_system_hold_keeps_the_failure(tmp_path):
    reason = "Transfer input files failure: file not found"
    fold = state_of(
        tmp_path, SUBMIT, held(13, reason), aborted(f"uws-server: removed after hold: {reason}")
    )
    assert (fold.state, fold.reason, fold.system_failure) == ("failed", reason, True)
    assert not fold.needs_removal


@pytest.mark.parametrize("code", [1, 15])
def test_user_holds_and_submit_on_hold_are_held_until_released(tmp_path, code):
    fold = state_of(tmp_path, SUBMIT, held(code, "via condor_hold (by user uws)"))
    assert fold.state == "held" and not fold.needs_removal
    assert state_of(tmp_path, SUBMIT, held(code, "x"), RELEASED).state == "queued"


def test_spooling_input_hold_is_still_queued(tmp_path):
    assert state_of(tmp_path, SUBMIT, held(16, "Spooling input data files")).state == "queued"


def test_executable_error_is_a_system_failure(tmp_path):
    fold = state_of(tmp_path, SUBMIT, EXECUTABLE_ERROR)
    assert fold.state == "failed" and fold.system_failure


def test_abort_by_the_service_is_cancelled_by_service(tmp_path):
    fold = state_of(tmp_path, SUBMIT, EXECUTE, aborted("uws-server: aborted by the service"))
    assert (fold.state, fold.cancelled_by_service) == ("cancelled", True)


@pytest.mark.parametrize(
    "reason",
    [
        "uws-server: execution duration exceeded",
        "The job attribute PeriodicRemove expression 'JobStatus == 2 && UwsMaxDuration > 0 && "
        "(time() - JobCurrentStartDate) > UwsMaxDuration' evaluated to TRUE",
    ],
)
def test_duration_removal_is_timed_out(tmp_path, reason):
    fold = state_of(tmp_path, SUBMIT, EXECUTE, aborted(reason))
    assert fold.state == "timed_out"


def test_removal_by_anyone_else_is_cancelled_with_the_remove_reason(tmp_path):
    fold = state_of(tmp_path, SUBMIT, EXECUTE, aborted("via condor_rm (by user admin)"))
    assert (fold.state, fold.cancelled_by_service) == ("cancelled", False)
    assert fold.reason == "via condor_rm (by user admin)"


def test_events_of_other_jobs_in_the_file_are_ignored(tmp_path):
    other = EXIT_3.replace("042.000.000", "042.001.000")
    assert state_of(tmp_path, SUBMIT, EXECUTE, other).state == "executing"


def test_reading_in_steps_gives_the_same_answer_as_reading_at_once(tmp_path):
    events = [SUBMIT, INPUT_TRANSFER, EXECUTE, SUSPENDED, UNSUSPENDED, OUTPUT_TRANSFER, EXIT_0]
    path = tmp_path / "condor.log"
    path.write_text("")
    cursor = None
    for event in events:
        with path.open("a") as handle:
            handle.write(event + "\n")
        fold, cursor = read_events(path, "42.0", cursor)
    whole = tmp_path / "whole"
    whole.mkdir()
    at_once, _ = fold_of(whole, *events)
    assert fold == at_once
    assert fold.state == "completed"


def test_rereading_from_an_old_cursor_is_idempotent(tmp_path):
    path = tmp_path / "condor.log"
    path.write_text(SUBMIT + "\n" + EXECUTE + "\n")
    _, old_cursor = read_events(path, "42.0", None)
    with path.open("a") as handle:
        handle.write(EXIT_0 + "\n")
    first = read_events(path, "42.0", old_cursor)
    second = read_events(path, "42.0", old_cursor)  # the dispatcher crashed, replays
    assert first == second
    again = read_events(path, "42.0", first[1])  # nothing new
    assert again[0] == first[0]
    assert decode_cursor(again[1])[0] == decode_cursor(first[1])[0]


def test_a_half_written_event_is_left_for_the_next_poll(tmp_path):
    path = tmp_path / "condor.log"
    partial = EXIT_0.rsplit("...", 1)[0]  # the terminator is not written yet
    path.write_text(SUBMIT + "\n" + EXECUTE + "\n" + partial)
    fold, cursor = read_events(path, "42.0", None)
    assert fold.state == "executing"
    with path.open("a") as handle:
        handle.write("...\n")
    fold, _ = read_events(path, "42.0", cursor)
    assert fold.state == "completed"


def test_a_missing_log_reads_as_none_and_a_bad_cursor_restarts(tmp_path):
    assert read_events(tmp_path / "nope.log", "42.0", None) is None
    fold, _ = fold_of(tmp_path, SUBMIT, EXECUTE, cursor="garbage")
    assert fold.state == "executing"


def test_a_corrupt_event_stops_the_read_without_losing_earlier_events(tmp_path):
    corrupt = "005 (042.000.000) 2026-11-24 10:01:00 Job terminated.\n\tgarbage\n..."
    fold, cursor = fold_of(tmp_path, SUBMIT, EXECUTE, corrupt)
    assert fold.state == "executing"
    assert decode_cursor(cursor)[0] > 0
