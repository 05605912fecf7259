"""Job history entries that are not phase changes: grants, parameter edits, actions.

Phase changes are recorded by :func:`~uws_server.services.transitions.transition`;
every other write to a job records who made it here, in the same transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import Job, JobEvent
from ..timeutil import utcnow


def record(session: Session, job: Job, kind: str, *, actor: str, note: str) -> None:
    """Add one history entry of ``kind`` (``grant``, ``parameters``, ...) to ``job``."""
    session.add(JobEvent(job_id=job.id, at=utcnow(), from_phase=job.phase, to_phase=job.phase,
                         actor=actor, note=note, kind=kind))
