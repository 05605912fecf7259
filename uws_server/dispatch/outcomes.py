"""What a backend's report means for a job: the mapping onto UWS phases.

The dispatcher polls executors and hands every :class:`BackendStatus` to
:func:`apply_status`, which decides the new phase, collects results, and
retries system failures up to the job type's ``max_tries``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from ..executors.base import BackendState, BackendStatus
from ..jobtypes import service as jobtypes
from ..models import Job
from ..phases import ExecutionPhase
from ..services.transitions import UNSET, transition
from ..storage import JobStorage
from ..timeutil import as_utc, utcnow
from .spec import collect_results, error_for_exit, tail

P = ExecutionPhase
log = logging.getLogger(__name__)
ACTOR = "dispatcher"


def store_results(session: Session, storage: JobStorage, job: Job) -> list[str]:
    """Replace the job's result rows by what its directory holds; return missing outputs."""
    collected = collect_results(storage, job, jobtypes.interface_of(job.revision))
    job.results.clear()
    session.flush()
    job.results.extend(collected.results)
    if collected.outputs_json:
        job.job_info = {**(job.job_info or {}), "outputs": collected.outputs_json}
    return collected.missing


def _requeue(session: Session, job: Job, reason: str) -> None:
    """Forget the failed backend job and queue the job again (a system failure)."""
    job.backend_id = None
    job.submit_token = None
    job.backend_cursor = None
    if P(job.phase) is not P.QUEUED:
        transition(session, job, P.QUEUED, actor=ACTOR, note=f"retry after: {reason}",
                   start_time=None)
    else:
        session.flush()


def _error(session: Session, storage: JobStorage, job: Job, message: str, *,
           kind: str = "fatal", status: BackendStatus | None = None) -> None:
    store_results(session, storage, job)
    detail = tail(storage, job.id, "stderr.txt") or None
    ended = status.ended_at if status is not None and status.ended_at is not None else UNSET
    transition(session, job, P.ERROR, actor=ACTOR, note=message, end_time=ended,
               error_type=kind, error_message=message,
               error_detail=f"{message}\n\n--- stderr (last part) ---\n{detail}" if detail
               else None)


def apply_status(session: Session, storage: JobStorage, job: Job, status: BackendStatus, *,
                 unknown_grace: float) -> None:
    """Move ``job`` according to one backend report (in the caller's transaction)."""
    phase = P(job.phase)
    if status.cursor is not None and status.cursor != job.backend_cursor:
        job.backend_cursor = status.cursor
    if status.state is not BackendState.UNKNOWN and job.unknown_since is not None:
        job.unknown_since = None
    state = status.state
    if state is BackendState.QUEUED:
        if phase in (P.EXECUTING, P.SUSPENDED, P.HELD, P.UNKNOWN):
            transition(session, job, P.QUEUED, actor=ACTOR, note=status.reason or "re-queued")
    elif state is BackendState.EXECUTING:
        if phase is not P.EXECUTING:
            started = status.started_at if status.started_at and not job.start_time \
                else UNSET
            transition(session, job, P.EXECUTING, actor=ACTOR, start_time=started)
    elif state in (BackendState.SUSPENDED, BackendState.HELD):
        target = P.SUSPENDED if state is BackendState.SUSPENDED else P.HELD
        if phase is not target:
            transition(session, job, target, actor=ACTOR, note=status.reason)
    elif state is BackendState.COMPLETED:
        _completed(session, storage, job, status)
    elif state is BackendState.FAILED:
        _failed(session, storage, job, status)
    elif state is BackendState.CANCELLED:
        if status.cancelled_by_service or job.cancel_requested:
            store_results(session, storage, job)
            transition(session, job, P.ABORTED, actor=ACTOR, note=status.reason,
                       error_type="fatal", error_message=status.reason or "aborted")
        else:
            _error(session, storage, job, f"removed outside the service: "
                   f"{status.reason or 'no reason given'}", status=status)
    elif state is BackendState.TIMED_OUT:
        duration_exceeded(session, storage, job)
    elif state is BackendState.UNKNOWN:
        now = utcnow()
        if job.unknown_since is None:
            job.unknown_since = now
        elif now - as_utc(job.unknown_since) > timedelta(seconds=unknown_grace):
            _error(session, storage, job, "the execution backend lost track of the job",
                   kind="transient")


def _completed(session: Session, storage: JobStorage, job: Job, status: BackendStatus) -> None:
    missing = store_results(session, storage, job)
    if missing:
        _error(session, storage, job, "required output not produced: " + ", ".join(missing),
               status=status)
        return
    if P(job.phase) is not P.EXECUTING and job.start_time is None:
        transition(session, job, P.EXECUTING, actor=ACTOR,
                   start_time=status.started_at or utcnow())
    transition(session, job, P.COMPLETED, actor=ACTOR, note="exit code 0",
               end_time=status.ended_at or UNSET)


def _failed(session: Session, storage: JobStorage, job: Job, status: BackendStatus) -> None:
    if status.disk_full:  # ENOSPC: a retry would fill the disk again
        _error(session, storage, job, status.reason or "no space left on device", status=status)
        return
    interface = jobtypes.interface_of(job.revision)
    kind, message, system = error_for_exit(interface, status.exit_code, status.reason)
    system = system or status.system_failure
    if system and job.tries < max(1, job.revision.job_type.max_tries):
        log.warning("job %s: system failure (%s), try %d: queued again", job.id, message,
                    job.tries)
        _requeue(session, job, message)
        return
    _error(session, storage, job, message, kind="transient" if system else kind, status=status)


def duration_exceeded(session: Session, storage: JobStorage, job: Job) -> None:
    """ABORTED with an explanation: the execution duration ran out (UWS §2.1.4)."""
    store_results(session, storage, job)
    job.duration_exceeded = True
    message = f"execution duration of {job.execution_duration} s exceeded"
    transition(session, job, P.ABORTED, actor=ACTOR, note=message, error_type="transient",
               error_message=message)
