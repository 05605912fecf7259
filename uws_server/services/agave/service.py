"""The Agave jobs API's service: jobs addressed by id alone, over the UWS job service.

Every job is an ordinary UWS job: creation, reads, stops and deletes go through
:class:`~uws_server.services.jobs.JobService` (its transactions, its checks of
parameters against the manifest, its access policy); sharing through
:class:`~uws_server.services.grants.GrantService`. What is Agave's own lives
here: resubmission, the history as Agave shows it, search and output listings.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...auth import policy
from ...auth.permissions import Permission
from ...db import Database
from ...errors import Conflict, JobNotFound
from ...identity import Identity
from ...models import Job, JobEvent, JobParameter, JobType, JobTypeRevision
from ...phases import ExecutionPhase
from ...storage import JobStorage
from .. import history, notifications
from ..grants import Grant, GrantService
from ..jobs import JobService
from ..views import JobView
from . import search
from .outputs import OutputEntry, list_outputs
from .submission import Notification, Submission


@dataclass
class AgaveJob:
    """A job with what the Agave document shows beyond the UWS view."""

    view: JobView
    version: str
    executor: str | None
    retries: int
    submit_time: datetime | None
    resubmitted_from: str | None
    resubmissions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryEvent:
    """One history entry: a ``job_events`` row, or the job's creation."""

    at: datetime
    from_phase: str | None
    to_phase: str
    actor: str
    note: str | None
    kind: str


class _CopiedUpload:
    """An uploaded input of the original job, handed to the new job's creation as an upload
    (read through ``open_file``: no symlink a job planted is followed)."""

    def __init__(self, storage: JobStorage, job_id: str, relative: str) -> None:
        self.storage, self.job_id, self.relative = storage, job_id, relative
        self.filename: str | None = relative.rsplit("/", 1)[-1].split("_", 1)[-1]

    def save(self, dst: str) -> None:
        """Copy the original file to ``dst``; 409 if it is gone (the original was destroyed
        meanwhile), 404 if the job replaced it by a symlink."""
        try:
            source = self.storage.open_file(self.job_id, self.relative)
        except FileNotFoundError:
            raise Conflict(f"cannot resubmit job {self.job_id}: its uploaded input "
                           f"{self.relative!r} is no longer there") from None
        with source, open(dst, "wb") as target:
            shutil.copyfileobj(source, target)


_LIST_COLUMNS = (Job.id, Job.run_id, Job.owner_id, Job.job_type_name, Job.executor, Job.phase,
                 Job.creation_time, Job.start_time, Job.end_time, JobType.version)


#: Module-level aliases: inside AgaveJobs, ``list`` would be its method's name.
HistoryEvents = list[HistoryEvent]
OutputEntries = list[OutputEntry]
Grants = list[Grant]


class AgaveJobs:
    """Jobs as the Agave jobs API sees them.

    Parameters
    ----------
    jobs
        The UWS job service every job goes through.
    grants
        Who else may do what on a job.
    executor
        The configured executor's name, shown as ``executionSystem`` before a job has one.
    """

    def __init__(self, jobs: JobService, grants: GrantService, executor: str) -> None:
        self.jobs = jobs
        self.grants = grants
        self.executor = executor

    @property
    def db(self) -> Database:
        """The database."""
        return self.jobs.db

    @property
    def storage(self) -> JobStorage:
        """Where job directories live."""
        return self.jobs.storage

    # -- reading -------------------------------------------------------------------------
    def type_of(self, job_id: str) -> str:
        """The job type of a job (404 if there is no such job; access is checked after)."""
        with self.db.read() as session:
            found = session.scalar(select(Job.job_type_name).where(
                Job.id == job_id, Job.deleted.is_(False)))
        if found is None:
            raise JobNotFound(f"no job {job_id!r}")
        return found

    def view(self, identity: Identity, job_id: str) -> JobView:
        """The UWS view of a job the caller may READ (404/403 by the access policy)."""
        return self.jobs.get(identity, self.type_of(job_id), job_id)

    def get(self, identity: Identity, job_id: str) -> AgaveJob:
        """A job with its Agave extras (the type's version, executor, links).

        The extras are read first, in one statement with the job's type, so that the
        UWS view (and its access check) needs no separate look-up of the type; nothing
        is returned before that check passes.
        """
        submitted = (select(JobEvent.at)
                     .where(JobEvent.job_id == Job.id,
                            JobEvent.to_phase == ExecutionPhase.QUEUED.value,
                            JobEvent.kind == "phase")
                     .order_by(JobEvent.at, JobEvent.id).limit(1).scalar_subquery())
        with self.db.read() as session:
            row = session.execute(
                select(Job.job_type_name, JobType.version, Job.executor, Job.tries,
                       Job.resubmitted_from, submitted.label("submitted"))
                .join(JobTypeRevision, Job.revision_id == JobTypeRevision.id)
                .join(JobType, JobTypeRevision.job_type_id == JobType.id)
                .where(Job.id == job_id, Job.deleted.is_(False))).one_or_none()
            later = list(session.scalars(
                select(Job.id).where(Job.resubmitted_from == job_id, Job.deleted.is_(False),
                                     policy.readable(identity))
                .order_by(Job.creation_time, Job.id))) if row is not None else []
        if row is None:
            raise JobNotFound(f"no job {job_id!r}")
        view = self.jobs.get(identity, row.job_type_name, job_id)
        return AgaveJob(view, row.version, row.executor or self.executor, int(row.tries or 0),
                        row.submitted, row.resubmitted_from, later)

    def list(self, identity: Identity, terms: Sequence[search.Term], *, limit: int,
             offset: int) -> list[Any]:
        """The jobs the caller may READ matching every term, newest first (every job type,
        ARCHIVED ones too); rows with :data:`_LIST_COLUMNS`."""
        query = (select(*_LIST_COLUMNS)
                 .join(JobTypeRevision, Job.revision_id == JobTypeRevision.id)
                 .join(JobType, JobTypeRevision.job_type_id == JobType.id)
                 .where(Job.deleted.is_(False), policy.readable(identity)))
        for term in terms:
            query = query.where(search.condition(term))
        query = query.order_by(Job.creation_time.desc(), Job.id.desc())
        with self.db.read() as session:
            return list(session.execute(query.limit(limit).offset(offset)))

    def history(self, identity: Identity, job_id: str, *, limit: int, offset: int
                ) -> HistoryEvents:
        """Every event of the job, oldest first, its creation first of all (needs READ)."""
        view = self.view(identity, job_id)
        created = HistoryEvent(view.creation_time, None, ExecutionPhase.PENDING.value,
                               view.owner_id or "anonymous", None, "phase")
        with self.db.read() as session:
            rows = session.execute(
                select(JobEvent.at, JobEvent.from_phase, JobEvent.to_phase, JobEvent.actor,
                       JobEvent.note, JobEvent.kind)
                .where(JobEvent.job_id == job_id).order_by(JobEvent.at, JobEvent.id)
                .limit(limit + 1).offset(max(0, offset - 1))).all()
        events = [HistoryEvent(*row) for row in rows]
        if offset == 0:
            events.insert(0, created)
        return events[:limit]

    # -- creating ------------------------------------------------------------------------
    def submit(self, identity: Identity, wanted: Submission) -> str:
        """Create and start the job of a checked JobRequest; return its id. Nothing is
        written if anything is refused (the notifications included)."""
        subscriptions = self._subscriptions(wanted.notifications)

        def subscribe(session: Session, job: Job) -> None:
            notifications.subscribe(session, job, list(subscriptions))

        job = self.jobs.create(identity, wanted.type_name, wanted.params, wanted.uploads,
                               on_create=subscribe)
        return job.id

    def _subscriptions(self, wanted: Sequence[Notification]
                       ) -> Sequence[notifications.Subscription]:
        """The request's webhooks checked by the notification service (the URL guard
        included): a refused destination is a 400 before anything is written."""
        raw = [{"url": n.url, "event": n.event, "persistent": n.persistent} for n in wanted]
        return notifications.parse_subscriptions(raw or None, settings=self.jobs.settings)

    def resubmit(self, identity: Identity, job_id: str) -> str:
        """A new job of the caller with the original's job type version, parameters and
        inputs (URLs fetched again, uploads copied), started at once, and linked both
        ways: ``resubmitted_from`` on the new job, a history entry on each. Needs EXECUTE."""
        type_name = self.type_of(job_id)
        with self.db.read() as session:
            row = session.execute(
                select(Job, JobType.version, policy.grant_bits_column(identity).label("g"))
                .join(JobTypeRevision, Job.revision_id == JobTypeRevision.id)
                .join(JobType, JobTypeRevision.job_type_id == JobType.id)
                .where(Job.id == job_id, Job.deleted.is_(False))).one_or_none()
            if row is None:
                raise JobNotFound(f"no job {job_id!r}")
            original: Job = row.Job
            policy.require(identity, original.owner_id, row.g, Permission.EXECUTE,
                           what=f"job {job_id!r}")
            params: list[tuple[str, str]] = []
            uploads: dict[str, list[Any]] = {}
            for param in session.scalars(select(JobParameter).where(
                    JobParameter.job_id == job_id).order_by(JobParameter.position)):
                if param.is_file and param.source_url is None:
                    uploads.setdefault(param.name, []).append(
                        _CopiedUpload(self.storage, job_id, param.value))
                else:
                    params.append((param.name, param.source_url or param.value))
            params += [("VERSION", row.version), ("PHASE", "RUN"),
                       ("EXECUTIONDURATION", str(original.execution_duration))]
            if original.run_id:
                params.append(("RUNID", original.run_id))

        def link(session: Session, job: Job) -> None:
            job.resubmitted_from = job_id
            history.record(session, job, "resubmit", actor=identity.label,
                           note=f"resubmitted from job {job_id}")
            source = session.get(Job, job_id)
            if source is not None:
                history.record(session, source, "resubmit", actor=identity.label,
                               note=f"resubmitted as job {job.id}")

        return self.jobs.create(identity, type_name, params, uploads, on_create=link).id

    # -- changing ------------------------------------------------------------------------
    def stop(self, identity: Identity, job_id: str) -> None:
        """Abort the job (needs EXECUTE); a finished job is left as it is."""
        self.jobs.abort(identity, self.type_of(job_id), job_id)

    def delete(self, identity: Identity, job_id: str) -> None:
        """Destroy the job (needs WRITE): its history goes with it."""
        self.jobs.delete(identity, self.type_of(job_id), job_id)

    # -- sharing -------------------------------------------------------------------------
    def permissions(self, identity: Identity, job_id: str) -> Grants:
        """The owner's ALL and every grant (needs READ)."""
        return self.grants.list(identity, job_id)

    def permission_of(self, identity: Identity, job_id: str, username: str) -> Grant:
        """One user's permission (``NONE`` when they hold nothing)."""
        return self.grants.get(identity, job_id, username)

    def share(self, identity: Identity, job_id: str, username: str, permission: str) -> Grant:
        """Set a user's permission; owner (or admin) only."""
        return self.grants.share(identity, job_id, username, permission)

    def revoke_all(self, identity: Identity, job_id: str) -> None:
        """Remove every grant but the owner's (owner or admin only)."""
        for grant in self.grants.list(identity, job_id):
            if grant.permission != "ALL" or grant.granted_by is not None:
                self.grants.share(identity, job_id, grant.username, "NONE")

    # -- outputs -------------------------------------------------------------------------
    def outputs(self, identity: Identity, job_id: str, sub: str, *, limit: int, offset: int
                ) -> OutputEntries:
        """The entries of the job's output directory at ``sub`` (needs READ)."""
        self.view(identity, job_id)
        return list_outputs(self.storage, job_id, sub)[offset:offset + limit]
