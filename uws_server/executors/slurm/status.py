"""Mapping Slurm job states onto the executor's :class:`BackendState`.

One table, so that the mapping documented in ``docs/slurm.md`` is the one the
code applies. A job's own failure (non-zero exit, signal, out of memory) is
told apart from the system's (node failure, boot failure, preemption) through
``system_failure``; a cancellation is the service's when the executor left
its marker file in the job's workdir before calling scancel.
"""

from __future__ import annotations

import re
import signal as signals

from uws_server.executors.base import BackendState, BackendStatus
from uws_server.executors.slurm.records import JobRecord

_ACTIVE = {
    "PENDING": BackendState.QUEUED,
    "CONFIGURING": BackendState.QUEUED,
    "REQUEUED": BackendState.QUEUED,
    "REQUEUE_FED": BackendState.QUEUED,
    "RESIZING": BackendState.QUEUED,
    "RUNNING": BackendState.EXECUTING,
    "COMPLETING": BackendState.EXECUTING,
    "SIGNALING": BackendState.EXECUTING,
    "STAGE_OUT": BackendState.EXECUTING,
    "SUSPENDED": BackendState.SUSPENDED,
    "STOPPED": BackendState.SUSPENDED,
    "REQUEUE_HOLD": BackendState.HELD,
    "RESV_DEL_HOLD": BackendState.HELD,
}

#: Final states that are the system's fault, with the reason reported.
_SYSTEM_FAILURES = {
    "NODE_FAIL": "node failure (NODE_FAIL)",
    "BOOT_FAIL": "node boot failure (BOOT_FAIL)",
    "PREEMPTED": "preempted by a higher-priority job (PREEMPTED)",
    "REVOKED": "revoked by a federated cluster (REVOKED)",
}

#: Reasons of a pending job that waits for ``scontrol release`` (squeue --json, sacct).
_HELD_REASONS = {"JobHeldUser", "JobHeldAdmin", "JobHoldMaxRequeue"}
#: Text squeue and scontrol print a pending job's description instead of its reason when
#: it has one: "job requeued in held state", "launch failed requeued held" (scontrol with
#: underscores for the spaces).
_HELD_DESCRIPTION = re.compile(r"(^|[\s_])held([\s_]|$)", re.IGNORECASE)


def is_held(record: JobRecord) -> bool:
    """Whether a pending job is held: it will not start until it is released."""
    reason = record.reason or ""
    return record.state == "PENDING" and (
        reason in _HELD_REASONS or _HELD_DESCRIPTION.search(reason) is not None
    )


#: States after which Slurm never changes the job again.
FINAL_STATES = {
    "COMPLETED",
    "FAILED",
    "OUT_OF_MEMORY",
    "CANCELLED",
    "TIMEOUT",
    "DEADLINE",
    "SPECIAL_EXIT",
    *_SYSTEM_FAILURES,
}


def is_final(record: JobRecord) -> bool:
    """Whether Slurm is done with the job."""
    return record.state in FINAL_STATES


def _signal_name(number: int) -> str:
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


def failure_reason(record: JobRecord) -> str:
    """Why a job failed, naming its exit code or the signal that killed it."""
    if record.signal:
        return f"killed by signal {record.signal} ({_signal_name(record.signal)})"
    if record.exit_code is not None:
        return f"exit code {record.exit_code}"
    return f"failed ({record.reason or record.state})"


def to_status(record: JobRecord, cancelled_by_service: bool = False) -> BackendStatus:
    """The :class:`BackendStatus` a Slurm record amounts to.

    ``cancelled_by_service`` says whether the executor's cancel marker is in
    the job's workdir; it only matters for CANCELLED jobs.
    """
    state = record.state
    started = record.started_at
    if state in _ACTIVE:
        backend_state = _ACTIVE[state]
        reason = record.reason
        if is_held(record):
            backend_state = BackendState.HELD
        if backend_state is BackendState.QUEUED:
            started = None
        return BackendStatus(state=backend_state, reason=reason, started_at=started)

    if state == "COMPLETED":
        return _final(BackendState.COMPLETED, record)
    if state in {"FAILED", "SPECIAL_EXIT"}:
        return _final(BackendState.FAILED, record, failure_reason(record))
    if state == "OUT_OF_MEMORY":
        return _final(BackendState.FAILED, record, "out of memory")
    if state in _SYSTEM_FAILURES:
        return _final(BackendState.FAILED, record, _SYSTEM_FAILURES[state], system_failure=True)
    if state == "TIMEOUT":
        return _final(BackendState.TIMED_OUT, record, "time limit reached")
    if state == "DEADLINE":
        return _final(BackendState.TIMED_OUT, record, "deadline reached")
    if state == "CANCELLED":
        who = "the service" if cancelled_by_service else "someone else (scancel)"
        return _final(
            BackendState.CANCELLED,
            record,
            f"cancelled by {who}",
            cancelled_by_service=cancelled_by_service,
        )
    return BackendStatus(state=BackendState.UNKNOWN, reason=f"unknown Slurm state {state}")


def _final(
    state: BackendState,
    record: JobRecord,
    reason: str | None = None,
    *,
    system_failure: bool = False,
    cancelled_by_service: bool = False,
) -> BackendStatus:
    """A report on a finished job, with its times and (unless signalled) exit code."""
    return BackendStatus(
        state=state,
        exit_code=None if record.signal else record.exit_code,
        reason=reason,
        started_at=record.started_at,
        ended_at=record.ended_at,
        system_failure=system_failure,
        cancelled_by_service=cancelled_by_service,
    )
