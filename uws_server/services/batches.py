"""Batches: many jobs of one job type in one request, watched as one (docs/batches.md).

Every job of a batch is an ordinary job (its UWS job list, OCPS, the
dispatcher see nothing special), owned by the batch's owner; the batch adds a
row naming the tool and the hardware, and each job points at it.

Creation checks every argument set with the UWS door's own parameter checks
(:func:`~uws_server.services.params.collect` and the job type's validators)
before anything is written, then writes all the jobs, their parameters and
their history in one transaction of multi-row Core inserts, and wakes the
dispatcher once. Statuses come from :mod:`.batch_status`; the summary is one
grouped query over an index.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from ..auth import policy
from ..auth.permissions import Permission
from ..config import Settings
from ..db import Database, mark_changed
from ..errors import BatchNotFound, InvalidParameter, JobNotFound, PermissionDenied, UWSError
from ..identity import Identity
from ..jobtypes import service as jobtypes
from ..models import Batch, Job, JobEvent, JobParameter
from ..phases import ACTIVE, ExecutionPhase
from ..timeutil import utcnow
from ..urlguard import url_policy
from . import job_rows, quotas
from .batch_request import parse_request
from .batch_status import (
    ACCEPTED,
    CLAIMED,
    ERROR_SENSITIVE,
    NOT_HANDED,
    STATUSES,
    status_column,
    status_expression,
    status_of,
)
from .hardware import check_limits, effective, parse_hardware
from .jobs import JobService, _check_may_create
from .params import ParamValue, ValueLimit, collect
from .transitions import transition

P = ExecutionPhase
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchView:
    """A batch as the API shows it (``n_jobs``: how many jobs it was created with)."""

    id: str
    owner_id: str | None
    tool_id: str
    cpu: float | None
    memory_mib: float | None
    filesystems: list[str]
    n_jobs: int
    created: datetime


@dataclass(frozen=True)
class BatchSummary:
    """A batch and its jobs' statuses (every one of :data:`STATUSES`, zeros included)."""

    batch: BatchView
    counts: dict[str, int]

    @property
    def n_submitted(self) -> int:
        """The batch's jobs counted here: all but those deleted one by one since."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class BatchJobView:
    """One job of a batch: its arguments, status and times."""

    id: str
    index: int
    args: dict[str, Any]
    status: str
    reason: str | None
    creation_time: datetime
    start_time: datetime | None
    end_time: datetime | None


_IN_BATCH = (Job.batch_id == bindparam("batch_id"), Job.deleted == false())
#: Per phase: jobs, jobs the backend accepted, jobs claimed but not yet accepted.
_SUMMARY = (select(Job.phase, func.count(), func.count(Job.backend_id),
                   func.sum(case((and_(Job.submit_token.is_not(None),
                                       Job.backend_id.is_(None)), 1), else_=0)))
            .where(*_IN_BATCH).group_by(Job.phase))
_ERRORED = (select(func.count()).select_from(Job)
            .where(*_IN_BATCH, Job.phase == bindparam("phase"), Job.error_message.is_not(None)))
_BATCH_COLUMNS = (Batch.id, Batch.owner_id, Batch.job_type_name, Batch.job_type_version,
                  Batch.cpu, Batch.memory_mib, Batch.filesystems, Batch.n_jobs, Batch.created)
_JOB_COLUMNS = (Job.id, Job.batch_index, status_column(), Job.error_message,
                Job.creation_time, Job.start_time, Job.end_time)


def _batch_view(row: Any) -> BatchView:
    return BatchView(row.id, row.owner_id, f"{row.job_type_name}/{row.job_type_version}",
                     row.cpu, row.memory_mib, list(row.filesystems or []), row.n_jobs,
                     row.created)


def _table(model: Any) -> Table:
    """The Core table of a model (for multi-row inserts)."""
    return cast(Table, model.__table__)


def _insert_many(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` in one Core ``executemany``: the statement is compiled once, and
    SQLAlchemy's "insertmanyvalues" sends it as multi-row ``INSERT ... VALUES (...), (...)``
    batches where the driver gains by it (PostgreSQL); SQLite's own executemany is faster."""
    if rows:
        connection.execute(insert(table), rows)


class BatchService:
    """Batches of one user (admins: of everybody), over the job service's jobs.

    Parameters
    ----------
    settings
        Limits (``max_batch_jobs``, hardware limits, the filesystem map) and job defaults.
    db
        The database.
    jobs
        The job service: its validators, duration rules and storage are the batch's too.
    """

    def __init__(self, settings: Settings, db: Database, jobs: JobService) -> None:
        self.settings = settings
        self.db = db
        self.jobs = jobs

    # -- reading -----------------------------------------------------------------------
    def _load(self, connection: Connection, identity: Identity, batch_id: str,
              needed: Permission = Permission.READ) -> BatchView:
        row = connection.execute(select(*_BATCH_COLUMNS).where(Batch.id == batch_id)
                                 ).one_or_none() if len(batch_id) <= 32 else None
        held = policy.permission_on(identity, row.owner_id, None) if row is not None \
            else Permission.NONE
        if row is None or not held:
            raise BatchNotFound(f"no batch {batch_id[:64]!r}")
        if needed & ~held:
            raise PermissionDenied(f"{identity.label} may only read batch {batch_id!r}")
        return _batch_view(row)

    def list_batches(self, identity: Identity, *, limit: int, offset: int
                     ) -> list[BatchView]:
        """The batches the caller may see (admins: all), newest first."""
        query = select(*_BATCH_COLUMNS).where(_visible(identity))
        query = query.order_by(Batch.created.desc(), Batch.id).limit(limit).offset(offset)
        with self.db.engine.connect() as connection:
            return [_batch_view(row) for row in connection.execute(query)]

    def get(self, identity: Identity, batch_id: str) -> BatchSummary:
        """The batch with its status counts.

        One grouped query over the covering index ``ix_jobs_batch_status`` (per phase:
        how many, how many the backend accepted, how many are claimed), classified by
        :func:`~.batch_status.status_of`; a second, small one only when jobs sit in a phase
        whose status depends on the error (ARCHIVED).
        """
        with self.db.engine.connect() as connection:
            batch = self._load(connection, identity, batch_id)
            rows = connection.execute(_SUMMARY, {"batch_id": batch_id}).all()
            counts = dict.fromkeys(STATUSES, 0)
            for phase_name, total, accepted, claimed in rows:
                phase = P(phase_name)
                claimed = int(claimed or 0)
                errored = 0
                if phase in ERROR_SENSITIVE:
                    errored = connection.execute(_ERRORED, {"batch_id": batch_id,
                                                            "phase": phase_name}).scalar_one()
                for handed, number in ((NOT_HANDED, total - accepted - claimed),
                                       (CLAIMED, claimed), (ACCEPTED, accepted)):
                    failed = min(number, errored) if phase in ERROR_SENSITIVE else 0
                    errored -= failed
                    counts[status_of(phase, handed, True)] += failed
                    counts[status_of(phase, handed, False)] += number - failed
        return BatchSummary(batch, counts)

    def jobs_of(self, identity: Identity, batch_id: str, *, limit: int, offset: int,
                statuses: Sequence[str] = ()) -> tuple[BatchView, list[BatchJobView]]:
        """A page of the batch's jobs in set order, optionally of some statuses only."""
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            raise InvalidParameter(f"status: unknown status {unknown[0][:40]!r} (one of "
                                   f"{', '.join(STATUSES)})")
        query = select(*_JOB_COLUMNS).where(Job.batch_id == batch_id, Job.deleted == false())
        if statuses:
            query = query.where(status_expression().in_(list(statuses)))
        query = query.order_by(Job.batch_index).limit(limit).offset(offset)
        with self.db.engine.connect() as connection:
            batch = self._load(connection, identity, batch_id)
            rows = connection.execute(query).all()
            return batch, self._job_views(connection, rows)

    def job(self, identity: Identity, batch_id: str, job_id: str
            ) -> tuple[BatchView, BatchJobView]:
        """One job of the batch; 404 for a job that is not (or no longer) in it."""
        query = select(*_JOB_COLUMNS).where(Job.id == job_id, Job.batch_id == batch_id,
                                            Job.deleted == false())
        with self.db.engine.connect() as connection:
            batch = self._load(connection, identity, batch_id)
            rows = connection.execute(query).all()
            if not rows:
                raise JobNotFound(f"no job {job_id[:64]!r} in batch {batch_id!r}")
            return batch, self._job_views(connection, rows)[0]

    @staticmethod
    def _job_views(connection: Connection, rows: Sequence[Any]) -> list[BatchJobView]:
        args: dict[str, dict[str, Any]] = {row.id: {} for row in rows}
        if rows:
            params = connection.execute(
                select(JobParameter.job_id, JobParameter.name, JobParameter.value,
                       JobParameter.source_url)
                .where(JobParameter.job_id.in_(list(args)))
                .order_by(JobParameter.job_id, JobParameter.position))
            for job_id, name, value, source in params:
                shown = source if source is not None else value
                current = args[job_id].get(name)
                if current is None:
                    args[job_id][name] = shown
                elif isinstance(current, list):
                    current.append(shown)
                else:
                    args[job_id][name] = [current, shown]
        return [BatchJobView(row.id, row.batch_index, args[row.id], row.status,
                             row.error_message if row.status == "FAILED" else None,
                             row.creation_time, row.start_time, row.end_time)
                for row in rows]

    # -- creating ----------------------------------------------------------------------
    def create(self, identity: Identity, body: Any) -> BatchSummary:
        """Create a batch from a ``POST /batches`` body (see :mod:`.batch_request`).

        Every set is checked before anything is written; then the batch, its jobs,
        their parameters and (``start``) their PENDING -> QUEUED history are written
        in one transaction.

        Raises
        ------
        InvalidParameter
            A malformed body, hardware over a limit or unknown, or a bad set: the message
            starts with ``set <index>:`` and names the parameter.
        PayloadTooLarge
            A value longer than the job type takes (naming the set and the parameter).
        UnknownJobType, JobTypeInactive, PermissionDenied, QuotaExceeded
            Nothing is written in any of these cases.
        """
        request = parse_request(body, max_jobs=self.settings.max_batch_jobs)
        with self.db.read() as session:
            resolved = jobtypes.resolve(session, request.type_name, request.version)
        job_type, interface = resolved.job_type, resolved.interface
        _check_may_create(identity, job_type.name, job_type.configuration)
        hardware = parse_hardware(request.hardware, self.settings)
        check_limits(hardware, interface, job_type.configuration, self.settings)
        checked = self._check_sets(request.sets, resolved)
        now = utcnow()
        batch_id = uuid.uuid4().hex
        cpu, memory = effective(hardware, interface)
        batch_row = {"id": batch_id, "owner_id": identity.name, "job_type_name": job_type.name,
                     "job_type_version": job_type.version, "revision_id": resolved.revision.id,
                     "cpu": cpu, "memory_mib": memory, "filesystems": list(hardware.filesystems),
                     "n_jobs": len(checked), "created": now}
        template = {
            "job_type_name": job_type.name, "revision_id": resolved.revision.id,
            "owner_id": identity.name, "run_id": batch_id,
            "phase": (P.QUEUED if request.start else P.PENDING).value, "creation_time": now,
            "start_time": None, "end_time": None,
            "destruction_time": now + timedelta(seconds=self.settings.default_lifetime),
            "quote": None,
            "execution_duration": job_rows.execution_duration(self.settings, None, interface),
            "priority": int((job_type.configuration or {}).get("priority", 0) or 0),
            "error_type": None, "error_message": None, "error_detail": None, "job_info": {},
            "executor": None, "submit_token": None, "backend_id": None, "backend_cursor": None,
            "cancel_requested": False, "duration_exceeded": False, "duration_dirty": False,
            "release_requested": False, "tries": 0, "unknown_since": None, "deleted": False,
            "upload_bytes": 0, "batch_id": batch_id, "req_cpu": hardware.cpu,
            "req_memory_mib": hardware.memory_mib,
            "filesystems": list(hardware.filesystems) or None,
        }
        # NULLs are left out of the insert: every one of them is a nullable column without
        # a default, and fewer columns per row is less binding work for 10,000 rows.
        template = {key: value for key, value in template.items() if value is not None}
        jobs, params, events = self._rows(checked, template, identity, request.start, now)
        with self.db.write() as session:
            quotas.check_new_jobs(session, self.settings, identity, count=len(jobs),
                                  starting=request.start)
            connection = session.connection()
            _insert_many(connection, _table(Batch), [batch_row])
            _insert_many(connection, _table(Job), jobs)
            _insert_many(connection, _table(JobParameter), params)
            _insert_many(connection, _table(JobEvent), events)
            if request.start:
                mark_changed(session, jobs[0]["id"])  # one wake-up for the dispatcher
        log.info("created batch %s: %d jobs of %s for %s", batch_id, len(jobs),
                 request.tool_id, identity.label)
        view = BatchView(batch_id, identity.name, f"{job_type.name}/{job_type.version}", cpu,
                         memory, list(hardware.filesystems), len(jobs), now)
        counts = dict.fromkeys(STATUSES, 0)
        counts["PENDING" if request.start else "SUBMITTED"] = len(jobs)
        return BatchSummary(view, counts)

    def _check_sets(self, sets: list[list[tuple[str, str]]],
                    resolved: jobtypes.ResolvedJobType) -> list[dict[str, list[ParamValue]]]:
        """Each set through the UWS door's checks; the first bad one refuses the batch."""
        settings, name = self.settings, resolved.job_type.name
        guard = url_policy(settings)
        limit = ValueLimit.of(settings.max_parameter_chars, resolved.job_type.configuration)
        checked = []
        for index, pairs in enumerate(sets):
            try:
                values = collect(resolved.interface, pairs, {},
                                 allow_urls=settings.allow_url_inputs, require_all=True,
                                 url_policy=guard, limit=limit)
                self.jobs.validators.check(settings, name, {
                    key: [e.value for e in entries] for key, entries in values.items()})
            except UWSError as exc:
                raise type(exc)(f"set {index}: {exc.message}") from None
            checked.append(values)
        return checked

    def _rows(self, checked: list[dict[str, list[ParamValue]]], template: dict[str, Any],
              identity: Identity, start: bool, now: datetime
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows of the jobs, their parameters and their history events."""
        storage = self.jobs.storage
        jobs, params, events = [], [], []
        for index, values in enumerate(checked):
            job_id = uuid.uuid4().hex
            jobs.append({**template, "id": job_id, "batch_index": index})
            position = 0
            for name, entries in values.items():
                for number, entry in enumerate(entries):
                    value = entry.value
                    if entry.url is not None:  # fetched by the dispatcher into this path
                        value = storage.input_path(job_id, name, number,
                                                   entry.url.rsplit("/", 1)[-1])
                    params.append({"job_id": job_id, "position": position, "name": name,
                                   "value": value, "is_file": entry.is_file,
                                   "source_url": entry.url})
                    position += 1
            if start:
                events.append({"job_id": job_id, "at": now, "from_phase": P.PENDING.value,
                               "to_phase": P.QUEUED.value, "actor": identity.label,
                               "note": "batch start", "kind": "phase"})
        return jobs, params, events

    def batch_of(self, job_id: str) -> str | None:
        """The batch a job belongs to, if any (for a page that already showed the job to the
        caller: it tells nothing about a job one may not see)."""
        with self.db.engine.connect() as connection:
            return connection.execute(select(Job.batch_id).where(Job.id == job_id)
                                      ).scalar_one_or_none()

    # -- aborting ----------------------------------------------------------------------
    def abort(self, identity: Identity, batch_id: str) -> int:
        """Abort every job of the batch that has not finished, as ``PHASE=ABORT`` does one
        by one (the dispatcher cancels those the backend has); finished ones stay as they
        are. One transaction; how many jobs were aborted."""
        unfinished = [p.value for p in ACTIVE | {P.PENDING}]
        with self.db.write() as session:
            self._load(session.connection(), identity, batch_id, Permission.EXECUTE)
            query = select(Job).where(*_IN_BATCH, Job.phase.in_(unfinished))
            if not self.db.is_sqlite:
                query = query.with_for_update(of=Job)
            count = 0
            for job in session.scalars(query, {"batch_id": batch_id}):
                if job.backend_id is not None or job.submit_token is not None:
                    job.cancel_requested = True
                transition(session, job, P.ABORTED, actor=identity.label, note="batch aborted",
                           error_type="fatal", error_message="aborted by " + identity.label)
                count += 1
        log.info("aborted %d jobs of batch %s for %s", count, batch_id, identity.label)
        return count

    # -- deleting ----------------------------------------------------------------------
    def delete(self, identity: Identity, batch_id: str) -> None:
        """Delete a batch: abort its jobs the backend has, then destroy all of its jobs
        (the dispatcher cancels the backend's and removes their files)."""
        with self.db.write() as session:
            self._load(session.connection(), identity, batch_id, Permission.WRITE)
            self._destroy(session, identity, [batch_id])

    def delete_all(self, identity: Identity) -> int:
        """Delete every batch the caller owns (admins too: their own only); how many."""
        owned = Batch.owner_id.is_(None) if identity.name is None \
            else Batch.owner_id == identity.name
        if identity.read_only:
            raise PermissionDenied("anonymous callers may only read: send a token to delete")
        with self.db.write() as session:
            ids = list(session.scalars(select(Batch.id).where(owned)))
            if ids:
                self._destroy(session, identity, ids)
        return len(ids)

    def _destroy(self, session: Session, identity: Identity, batch_ids: list[str]) -> None:
        in_batches = (Job.batch_id.in_(batch_ids), Job.deleted == false())
        active = Job.phase.in_([p.value for p in ACTIVE])
        handed = or_(Job.backend_id.is_not(None), Job.submit_token.is_not(None))
        query = select(Job).where(*in_batches, active, handed)
        if not self.db.is_sqlite:
            query = query.with_for_update(of=Job)
        for job in session.scalars(query):  # the existing abort: cancel, then ABORTED
            job.cancel_requested = True
            transition(session, job, P.ABORTED, actor=identity.label, note="batch deleted",
                       error_type="fatal", error_message="aborted by " + identity.label)
        session.flush()
        session.execute(update(Job).where(*in_batches, active, handed)
                        .values(cancel_requested=True).execution_options(
                            synchronize_session=False))
        first = session.scalar(select(Job.id).where(*in_batches).limit(1))
        session.execute(update(Job).where(*in_batches).values(deleted=True)
                        .execution_options(synchronize_session=False))
        session.execute(delete(Batch).where(Batch.id.in_(batch_ids))
                        .execution_options(synchronize_session=False))
        if first is not None:
            mark_changed(session, first)  # wakes the dispatcher, which purges them
        log.info("deleted batches %s for %s", ", ".join(batch_ids), identity.label)


def _visible(identity: Identity) -> Any:
    """The SQL condition "the caller may see this batch": :func:`policy.permission_on`
    without grants (a batch is never shared; its jobs may be, one by one)."""
    if identity.is_admin:
        return true()
    if identity.name is None:
        return Batch.owner_id.is_(None)
    return Batch.owner_id == identity.name
