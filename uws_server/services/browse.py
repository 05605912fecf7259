"""The read path of the web interface: jobs across job types, a job's timeline, health.

UWS lists jobs one job type at a time; a person looks at all of theirs at
once, filtered and paged, with a count per phase. Every query here filters by
:func:`~uws_server.auth.policy.readable`, the same rule as every other list, so
the web pages show exactly what the API would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ..auth import policy
from ..db import Database
from ..errors import InvalidParameter, JobNotFound
from ..identity import Identity
from ..models import DispatcherLease, Job, JobEvent
from ..phases import ExecutionPhase
from ..timeutil import utcnow
from .views import JOB_LIST_COLUMNS, JobView, job_list_views

#: Phases in the order the pages show them.
PHASE_ORDER = tuple(p.value for p in ExecutionPhase)
#: Phases during which a page keeps following the job.
ACTIVE = frozenset({"PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED"})
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class JobFilter:
    """What a job list shows; empty fields filter nothing."""

    owner: str | None = None
    phase: str | None = None
    job_type: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class JobPage:
    """One page of a filtered job list, with the count of each phase across all pages."""

    jobs: list[JobView]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the filtered list has (at least one)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Step:
    """One entry of a job's timeline: a phase change or another recorded action."""

    at: datetime
    kind: str
    from_phase: str | None
    to_phase: str
    actor: str
    note: str | None
    #: Seconds until the next phase change (or until now for the current phase).
    seconds: float | None


@dataclass(frozen=True)
class Backend:
    """What the dispatcher recorded of a job on its backend."""

    executor: str | None
    backend_id: str | None
    tries: int


@dataclass(frozen=True)
class LeaseState:
    """The dispatcher lease: who holds it and whether it is current."""

    holder: str
    expires_at: datetime
    epoch: int
    alive: bool
    #: When the holder last renewed it (its last tick): ``expires_at`` less the lease time.
    last_tick: datetime


class BrowseService:
    """Jobs and service state as the web pages show them.

    Parameters
    ----------
    db
        The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def _conditions(self, identity: Identity, chosen: JobFilter) -> list[Any]:
        where: list[Any] = [Job.deleted.is_(False), policy.readable(identity)]
        if chosen.owner:
            where.append(Job.owner_id == chosen.owner)
        if chosen.job_type:
            where.append(Job.job_type_name == chosen.job_type)
        if chosen.run_id:
            escaped = (chosen.run_id.replace("\\", "\\\\").replace("%", "\\%")
                       .replace("_", "\\_"))
            where.append(Job.run_id.ilike(f"%{escaped}%", escape="\\"))
        return where

    def jobs(self, identity: Identity, chosen: JobFilter, *, page: int = 1,
             per_page: int = 25) -> JobPage:
        """The jobs the caller may read that match ``chosen``, newest first.

        ARCHIVED jobs are left out unless asked for by phase, as in UWS lists.

        Raises
        ------
        InvalidParameter
            An unknown phase, or a page or page size out of range.
        """
        if chosen.phase and chosen.phase not in PHASE_ORDER:
            raise InvalidParameter(f"phase: unknown phase {chosen.phase!r}")
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise InvalidParameter(f"page: must be at least 1, with 1 to {MAX_PER_PAGE} jobs "
                                   "a page")
        where = self._conditions(identity, chosen)
        listed = [*where, Job.phase == chosen.phase] if chosen.phase else [
            *where, Job.phase != ExecutionPhase.ARCHIVED.value]
        with self.db.read() as session:
            counts = {row[0]: int(row[1]) for row in session.execute(
                select(Job.phase, func.count()).where(*where).group_by(Job.phase))}
            total = int(session.scalar(select(func.count()).select_from(Job).where(*listed))
                        or 0)
            rows = session.execute(
                select(*JOB_LIST_COLUMNS).where(*listed)
                .order_by(Job.creation_time.desc(), Job.id.desc())
                .limit(per_page).offset((page - 1) * per_page))
            jobs = job_list_views(rows)
        return JobPage(jobs, total, page, per_page,
                       {phase: counts.get(phase, 0) for phase in PHASE_ORDER})

    def job_type_of(self, identity: Identity, job_id: str) -> str:
        """The job type of a job the caller holds any permission on; :class:`JobNotFound`
        otherwise. What they may do with it is checked by the service they call next (a
        READ is a 403 for a holder of WRITE alone, as everywhere)."""
        with self.db.read() as session:
            row = session.execute(select(Job.job_type_name, Job.owner_id,
                                         policy.grant_bits_column(identity).label("granted"))
                                  .where(Job.id == job_id, Job.deleted.is_(False))).first()
        if row is None or not policy.permission_on(identity, row.owner_id, row.granted):
            raise JobNotFound(f"no job {job_id!r}")
        return str(row.job_type_name)

    def timeline(self, identity: Identity, job_id: str) -> tuple[list[Step], Backend]:
        """The job's history, oldest first, with how long each phase lasted.

        Raises
        ------
        JobNotFound
            The caller may not read the job (or there is none).
        """
        with self.db.read() as session:
            job = session.execute(select(Job.executor, Job.backend_id, Job.tries, Job.phase)
                                  .where(Job.id == job_id, Job.deleted.is_(False),
                                         policy.readable(identity))).first()
            if job is None:
                raise JobNotFound(f"no job {job_id!r}")
            events = session.execute(
                select(JobEvent.at, JobEvent.kind, JobEvent.from_phase, JobEvent.to_phase,
                       JobEvent.actor, JobEvent.note)
                .where(JobEvent.job_id == job_id).order_by(JobEvent.at, JobEvent.id)).all()
        changes = [e.at for e in events if e.kind == "phase"]
        steps = []
        for event in events:
            seconds = None
            if event.kind == "phase":
                later = [at for at in changes if at > event.at]
                end = later[0] if later else (utcnow() if job.phase in ACTIVE else None)
                seconds = (end - event.at).total_seconds() if end is not None else None
            steps.append(Step(event.at, event.kind, event.from_phase, event.to_phase,
                              event.actor, event.note, seconds))
        return steps, Backend(job.executor, job.backend_id, int(job.tries or 0))

    def owners(self, identity: Identity) -> list[str]:
        """The owners of jobs the caller may read (for an admin's user filter)."""
        with self.db.read() as session:
            rows = session.scalars(select(Job.owner_id).where(
                Job.deleted.is_(False), Job.owner_id.is_not(None), policy.readable(identity))
                .distinct().order_by(Job.owner_id))
            return [str(name) for name in rows]

    def leases(self, lease_seconds: float) -> list[LeaseState]:
        """The dispatcher lease rows (one in practice), for the admin page."""
        now = utcnow()
        with self.db.read() as session:
            rows = session.scalars(select(DispatcherLease).order_by(DispatcherLease.id)).all()
            return [LeaseState(row.holder, row.expires_at, int(row.epoch or 0),
                               row.expires_at > now,
                               row.expires_at - timedelta(seconds=lease_seconds))
                    for row in rows]
