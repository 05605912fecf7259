"""The one function that changes a job's phase.

It checks the transition against the table in :mod:`uws_server.phases`,
writes the phase with a compare-and-set (so two writers can never both move
the same job), stamps start and end times, records a history event and marks
the job changed so that waiters wake when the transaction commits. A job with
webhook subscriptions gets its deliveries written in the same transaction
(:mod:`.notifications`). Each
change is logged once, when (and only if) its transaction commits.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, event, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..db import mark_changed
from ..logs import job_fields
from ..metrics import observe_phase_change
from ..models import Job, JobEvent
from ..phases import FINISHED, ExecutionPhase, can_transition
from ..timeutil import as_utc, utcnow
from . import notifications

P = ExecutionPhase
log = logging.getLogger(__name__)

#: Session info key: the phase-change log lines of the open transaction, written on commit.
_PENDING_LINES = "uws_phase_lines"


class Unset(enum.Enum):
    """The type of :data:`UNSET`: a field :func:`transition` leaves to its default."""

    UNSET = "unset"


UNSET = Unset.UNSET


class IllegalTransition(Exception):
    """A server-side move the state machine does not allow (a bug, or a lost race)."""


def _end_not_before_start(values: dict[str, Any], job: Job) -> None:
    """Keep ``endTime >= startTime``: the two may come from different clocks.

    A backend reports when the job ended, but the start may have been stamped by the
    dispatcher when it first saw the job running, a moment after a short job had ended.
    """
    end = values.get("end_time")
    start = values.get("start_time", job.start_time)
    if end is not None and start is not None and as_utc(end) < as_utc(start):
        values["end_time"] = start


def transition(
    session: Session,
    job: Job,
    new_phase: ExecutionPhase,
    *,
    actor: str,
    note: str | None = None,
    start_time: datetime | Unset | None = UNSET,
    end_time: datetime | Unset | None = UNSET,
    error_type: str | Unset | None = UNSET,
    error_message: str | Unset | None = UNSET,
    error_detail: str | Unset | None = UNSET,
) -> bool:
    """Move ``job`` to ``new_phase`` within the session's transaction.

    Parameters
    ----------
    session
        The open (writing) session; the caller commits.
    job
        The job, as loaded in this session.
    new_phase
        The phase to enter.
    actor
        Who asks (a user name, ``dispatcher``, ``system``), for the history.
    note
        Why, for the history (exit code, hold reason...).
    start_time, end_time
        Times to record instead of the defaults (now, when the phase starts or ends the
        run); ``None`` clears them. Left out: the default.
    error_type, error_message, error_detail
        The error summary to write in the same statement (ERROR, ABORTED).

    Returns
    -------
    bool
        ``False`` when the job's phase changed under us (the compare-and-set
        found another phase); the job is then refreshed and nothing is written.

    Raises
    ------
    IllegalTransition
        If the state machine forbids the move from the job's current phase.
    """
    current = ExecutionPhase(job.phase)
    if not can_transition(current, new_phase):
        raise IllegalTransition(f"job {job.id}: {current} -> {new_phase} is not allowed")
    now = utcnow()
    fields = {name: value for name, value in (
        ("start_time", start_time), ("end_time", end_time), ("error_type", error_type),
        ("error_message", error_message), ("error_detail", error_detail))
        if value is not UNSET}
    values: dict[str, Any] = {"phase": new_phase.value, **fields}
    if new_phase is P.EXECUTING and job.start_time is None and "start_time" not in fields:
        values["start_time"] = now
    if new_phase in FINISHED and new_phase is not P.ARCHIVED and "end_time" not in fields:
        values["end_time"] = now
    if new_phase is P.QUEUED and current is not P.PENDING:
        values.setdefault("end_time", None)
    _end_not_before_start(values, job)
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.phase == current.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        session.refresh(job)
        return False
    for key, value in values.items():
        set_committed_value(job, key, value)
    session.add(
        JobEvent(job_id=job.id, at=now, from_phase=current.value, to_phase=new_phase.value,
                 actor=actor, note=note)
    )
    if job.notify:  # webhooks: deliveries go out only if this change commits (outbox)
        notifications.enqueue(session, job, current, new_phase)
    mark_changed(session, job.id)
    observe_phase_change(session, job.id, job.job_type_name, current.value, new_phase.value,
                         job.start_time, now)
    why = error_message if isinstance(error_message, str) and error_message else note
    _remember_line(session, job, current, new_phase, actor, why)
    return True


def _remember_line(session: Session, job: Job, old: ExecutionPhase, new: ExecutionPhase,
                   actor: str, reason: str | None) -> None:
    """Queue the change's log line (ERROR at WARNING level) until the transaction commits."""
    level = logging.WARNING if new is P.ERROR else logging.INFO
    if not log.isEnabledFor(level):
        return
    reason = " ".join(reason.split())[:500] if reason else None
    fields = job_fields(job, previous_phase=old.value, actor=actor, reason=reason)
    session.info.setdefault(_PENDING_LINES, []).append((level, fields))


@event.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    for level, fields in session.info.pop(_PENDING_LINES, ()):
        log.log(level, "job %s %s -> %s (type %s, owner %s, backend %s, by %s)%s",
                fields["job_id"], fields["previous_phase"], fields["phase"], fields["job_type"],
                fields["owner"] or "-", fields["backend_id"] or "-", fields["actor"],
                f": {fields['reason']}" if fields["reason"] else "", extra=fields)


@event.listens_for(Session, "after_rollback")
def _forget_lines(session: Session) -> None:
    session.info.pop(_PENDING_LINES, None)
