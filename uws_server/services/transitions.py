"""The one function that changes a job's phase.

It checks the transition against the table in :mod:`uws_server.phases`,
writes the phase with a compare-and-set (so two writers can never both move
the same job), stamps start and end times, records a history event and marks
the job changed so that waiters wake when the transaction commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..db import mark_changed
from ..models import Job, JobEvent
from ..phases import FINISHED, ExecutionPhase, can_transition
from ..timeutil import utcnow

P = ExecutionPhase


class IllegalTransition(Exception):
    """A server-side move the state machine does not allow (a bug, or a lost race)."""


def transition(
    session: Session,
    job: Job,
    new_phase: ExecutionPhase,
    *,
    actor: str,
    note: str | None = None,
    **fields: Any,
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
    **fields
        Other job columns to write in the same statement (error fields...).

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
    values: dict[str, Any] = {"phase": new_phase.value, **fields}
    if new_phase is P.EXECUTING and job.start_time is None and "start_time" not in fields:
        values["start_time"] = now
    if new_phase in FINISHED and new_phase is not P.ARCHIVED and "end_time" not in fields:
        values["end_time"] = now
    if new_phase is P.QUEUED and current is not P.PENDING:
        values.setdefault("end_time", None)
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.phase == current.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(job)
        return False
    for key, value in values.items():
        set_committed_value(job, key, value)
    session.add(
        JobEvent(job_id=job.id, at=now, from_phase=current.value, to_phase=new_phase.value,
                 actor=actor, note=note)
    )
    mark_changed(session, job.id)
    return True
