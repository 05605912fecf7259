"""The UWS job service: create, read, list, change and destroy jobs.

Every method takes the acting :class:`~uws_server.identity.Identity` and
owns its transaction: a rejected request writes nothing and leaves no file
behind. Phases change only through :func:`~uws_server.services.transitions.transition`.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..config import Settings
from ..db import Database, mark_changed
from ..errors import (
    InvalidParameter,
    JobNotFound,
    PayloadTooLarge,
    PermissionDenied,
    UnknownJobType,
    WrongPhase,
)
from ..identity import Identity
from ..jobtypes import service as jobtypes
from ..models import Job, JobParameter
from ..phases import ACTIVE, FINISHED, ExecutionPhase
from ..storage import JobStorage
from ..timeutil import parse_utc, utcnow
from ..urlguard import url_policy
from .params import ParamValue, Upload, collect, single, split_control
from .transitions import transition
from .validators import JobValidators
from .views import JOB_LIST_COLUMNS, JobView, job_list_views, load_job_view, load_phase

P = ExecutionPhase
log = logging.getLogger(__name__)


def _check_visible(identity: Identity, found: Any, type_name: str, job_id: str) -> None:
    """404 for a job that is not there, 403 for one that belongs to somebody else.

    ``found`` is anything with an ``owner_id`` (a job, a view, a row) or ``None``.
    """
    if found is None:
        raise JobNotFound(f"no job {job_id!r} in job list {type_name!r}")
    if not identity.may_see(found.owner_id):
        raise PermissionDenied(f"job {job_id} belongs to another user")


class JobService:
    """Jobs as UWS sees them.

    Parameters
    ----------
    settings
        Limits and defaults (durations, lifetimes, upload size).
    db
        The database.
    storage
        Where job directories live.
    validators
        The checks of job types with rules beyond their Seed interface (``ocps``), run on
        every creation and parameter change.
    """

    def __init__(self, settings: Settings, db: Database, storage: JobStorage, *,
                 validators: JobValidators) -> None:
        self.settings = settings
        self.db = db
        self.storage = storage
        self.validators = validators

    # -- job types ---------------------------------------------------------------------
    def job_type_names(self) -> list[str]:
        """The names of the job lists this service offers (one per job type)."""
        with self.db.read() as session:
            return jobtypes.list_names(session)

    def require_job_type(self, type_name: str) -> None:
        """Raise :class:`UnknownJobType` unless ``type_name`` names a job list."""
        with self.db.read() as session:
            if not jobtypes.job_type_exists(session, type_name):
                raise UnknownJobType(f"no job list {type_name!r}: no such job type")

    # -- reading -----------------------------------------------------------------------
    def _load(self, session: Session, identity: Identity, type_name: str, job_id: str,
              *, for_update: bool = False) -> Job:
        query = select(Job).where(Job.id == job_id, Job.job_type_name == type_name,
                                  Job.deleted.is_(False))
        query = query.options(selectinload(Job.parameters), selectinload(Job.results))
        if for_update and not self.db.is_sqlite:
            query = query.with_for_update(of=Job)
        job = session.scalars(query).one_or_none()
        _check_visible(identity, job, type_name, job_id)
        return job

    def get(self, identity: Identity, type_name: str, job_id: str) -> JobView:
        """One job with its parameters and results, ready to render (read-only)."""
        with self.db.engine.connect() as connection:
            view = load_job_view(connection, type_name, job_id)
        _check_visible(identity, view, type_name, job_id)
        return view

    def phase_of(self, identity: Identity, type_name: str, job_id: str) -> ExecutionPhase:
        """Just the phase, cheaply (blocking WAIT re-reads it)."""
        with self.db.engine.connect() as connection:
            row = load_phase(connection, type_name, job_id)
        _check_visible(identity, row, type_name, job_id)
        return ExecutionPhase(row.phase)

    def list(
        self, identity: Identity, type_name: str, *, phases: Sequence[ExecutionPhase] = (),
        after: datetime | None = None, last: int | None = None,
    ) -> list[JobView]:
        """The jobs of a job list the caller may see, newest first (UWS §2.2.2.1).

        ARCHIVED jobs appear only when asked for by ``phases``. Filters are
        ANDed; ``last`` keeps the newest ``last`` of what matches.
        """
        query = select(*JOB_LIST_COLUMNS).where(Job.job_type_name == type_name,
                                                Job.deleted.is_(False))
        if phases:
            query = query.where(Job.phase.in_([p.value for p in phases]))
        else:
            query = query.where(Job.phase != P.ARCHIVED.value)
        if after is not None:
            query = query.where(Job.creation_time > after)
        if "admin" not in identity.roles:
            query = query.where(
                (Job.owner_id.is_(None)) | (Job.owner_id == identity.name)
                if identity.name is not None else Job.owner_id.is_(None)
            )
        query = query.order_by(Job.creation_time.desc(), Job.id.desc())
        if last is not None:
            query = query.limit(last)
        with self.db.read() as session:
            return job_list_views(session.execute(query))

    # -- creating ------------------------------------------------------------------------
    def create(
        self, identity: Identity, type_name: str, params: Sequence[tuple[str, str]],
        uploads: Mapping[str, Sequence[Upload]],
    ) -> Job:
        """Create a PENDING job (QUEUED with ``PHASE=RUN``) from a client's request.

        Raises
        ------
        UnknownJobType, JobTypeInactive, InvalidParameter, PayloadTooLarge
            Nothing is written in any of these cases.
        """
        control, job_params = split_control(params)
        phase = single(control, "PHASE")
        if phase is not None and phase.strip().upper() != "RUN":
            raise InvalidParameter(f"PHASE: only RUN may be given at creation, got {phase!r}")
        run_id = single(control, "RUNID")
        if run_id is not None and len(run_id) > 64:
            raise InvalidParameter("RUNID: longer than 64 characters")
        if single(control, "ACTION") is not None:
            raise InvalidParameter("ACTION: not allowed when creating a job")
        version = single(control, "VERSION")
        now = utcnow()
        # Validate and store files before taking the write lock (SQLite has one writer).
        with self.db.read() as session:
            resolved = jobtypes.resolve(session, type_name, version)
        values = collect(resolved.interface, job_params, uploads,
                         allow_urls=self.settings.allow_url_inputs, require_all=True,
                         url_policy=url_policy(self.settings))
        self.validators.check(self.settings, resolved.job_type.name,
                              {name: [e.value for e in entries]
                               for name, entries in values.items()})
        duration = self._duration(single(control, "EXECUTIONDURATION"), resolved.interface)
        destruction = now + timedelta(seconds=self.settings.default_lifetime)
        if (text := single(control, "DESTRUCTION")) is not None:
            destruction = self._destruction(text, now)
        job = Job(
            id=uuid.uuid4().hex, job_type_name=resolved.job_type.name,
            revision_id=resolved.revision.id, owner_id=identity.name, run_id=run_id,
            phase=P.PENDING.value, creation_time=now, destruction_time=destruction,
            execution_duration=duration,
            priority=int((resolved.job_type.configuration or {}).get("priority", 0) or 0),
            job_info={}, tries=0, cancel_requested=False, duration_exceeded=False,
            duration_dirty=False, release_requested=False, deleted=False,
        )
        self.storage.create(job.id)
        try:
            self._store_params(job, values)
            with self.db.write() as session:
                session.add(job)
                session.flush()
                if phase is not None:
                    transition(session, job, P.QUEUED, actor=identity.label, note="PHASE=RUN")
        except BaseException:
            self.storage.remove(job.id)
            raise
        log.info("created job %s (%s) for %s", job.id, type_name, identity.label)
        return job

    def _store_params(self, job: Job, values: Mapping[str, list[ParamValue]]) -> None:
        """Write parameter rows and uploaded files; may raise PayloadTooLarge."""
        position = len(job.parameters)
        for name, entries in values.items():
            for index, entry in enumerate(entries):
                value, source = entry.value, entry.url
                if entry.upload is not None:
                    value = self.storage.input_path(job.id, name, index, entry.upload.filename)
                    target = self.storage.resolve(job.id, value)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    entry.upload.save(str(target))
                    if os.path.getsize(target) > self.settings.max_upload_bytes:
                        raise PayloadTooLarge(
                            f"{name}: upload larger than {self.settings.max_upload_bytes} bytes")
                elif entry.url is not None:
                    value = self.storage.input_path(job.id, name, index,
                                                    entry.url.rsplit("/", 1)[-1])
                job.parameters.append(JobParameter(
                    position=position, name=name, value=value, is_file=entry.is_file,
                    source_url=source,
                ))
                position += 1

    # -- limits ------------------------------------------------------------------------
    def _duration(self, text: str | None, interface: jobtypes.JobTypeInterface | None) -> int:
        """The execution duration to set for a requested value (clamped, UWS §2.1.4)."""
        limit = self.settings.max_duration
        if interface is not None and interface.timeout:
            limit = min(limit, interface.timeout) if limit else interface.timeout
        if text is None:
            seconds = self.settings.default_duration
        else:
            try:
                value = float(text.strip())
            except ValueError:
                raise InvalidParameter(
                    f"EXECUTIONDURATION: expected a whole number of seconds, got {text!r}"
                ) from None
            if not math.isfinite(value) or value < 0:
                raise InvalidParameter(
                    f"EXECUTIONDURATION: must be 0 (unlimited) or a positive number, got {text!r}")
            seconds = round(value)
        if seconds == 0:
            return limit  # unlimited, within what the service allows (0 if no limit)
        return min(seconds, limit) if limit else seconds

    def _destruction(self, text: str, now: datetime) -> datetime:
        try:
            value = parse_utc(text)
        except ValueError as exc:
            raise InvalidParameter(f"DESTRUCTION: {exc}") from None
        latest = now + timedelta(seconds=self.settings.max_lifetime)
        return min(value, latest)

    # -- changing ------------------------------------------------------------------------
    def run(self, identity: Identity, type_name: str, job_id: str) -> None:
        """``PHASE=RUN``: queue a PENDING (or re-queue a HELD) job; no-op if already going."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, for_update=True)
            phase = P(job.phase)
            if phase is P.PENDING:
                transition(session, job, P.QUEUED, actor=identity.label, note="PHASE=RUN")
            elif phase is P.HELD:
                job.release_requested = True
                transition(session, job, P.QUEUED, actor=identity.label, note="PHASE=RUN (release)")
            elif phase in (P.QUEUED, P.EXECUTING, P.SUSPENDED, P.UNKNOWN):
                return
            else:
                raise WrongPhase(f"cannot run job {job_id}: it is {phase}")

    def abort(self, identity: Identity, type_name: str, job_id: str) -> None:
        """``PHASE=ABORT``: stop the job now; finished jobs are left as they are."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, for_update=True)
            phase = P(job.phase)
            if phase is P.ARCHIVED:
                raise WrongPhase(f"cannot abort job {job_id}: it is ARCHIVED")
            if phase in FINISHED:
                return
            if job.backend_id is not None or job.submit_token is not None:
                job.cancel_requested = True
            transition(session, job, P.ABORTED, actor=identity.label, note="PHASE=ABORT",
                       error_type="fatal", error_message="aborted by " + identity.label)

    def delete(self, identity: Identity, type_name: str, job_id: str) -> None:
        """Destroy a job: it is gone for clients at once; the dispatcher stops it and frees
        its files."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, for_update=True)
            job.deleted = True
            if P(job.phase) in ACTIVE and (job.backend_id or job.submit_token):
                job.cancel_requested = True
            mark_changed(session, job.id)

    def set_execution_duration(self, identity: Identity, type_name: str, job_id: str,
                               text: str) -> None:
        """Set the execution duration (clamped); refused once the job has finished."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, for_update=True)
            if P(job.phase) in FINISHED:
                raise WrongPhase(f"cannot change the execution duration of job {job_id}: "
                                 f"it is {job.phase}")
            interface = jobtypes.interface_of(job.revision)
            job.execution_duration = self._duration(text, interface)
            if job.backend_id is not None:
                job.duration_dirty = True
            mark_changed(session, job.id)

    def set_destruction(self, identity: Identity, type_name: str, job_id: str, text: str) -> None:
        """Set the destruction time (clamped to the longest lifetime allowed)."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, for_update=True)
            if P(job.phase) is P.ARCHIVED:
                raise WrongPhase(f"cannot change the destruction time of job {job_id}: "
                                 "it is ARCHIVED")
            job.destruction_time = self._destruction(text, job.creation_time)

    def update_parameters(
        self, identity: Identity, type_name: str, job_id: str,
        params: Sequence[tuple[str, str]], uploads: Mapping[str, Sequence[Upload]],
    ) -> None:
        """Replace the values of the parameters named, while the job is PENDING."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, for_update=True)
            if P(job.phase) is not P.PENDING:
                raise WrongPhase(f"cannot change parameters of job {job_id}: it is {job.phase}, "
                                 "not PENDING")
            values = collect(jobtypes.interface_of(job.revision), params, uploads,
                             allow_urls=self.settings.allow_url_inputs, require_all=False,
                             url_policy=url_policy(self.settings))
            merged = {p.name: [p.value] for p in job.parameters}
            merged.update({name: [e.value for e in entries] for name, entries in values.items()})
            self.validators.check(self.settings, job.job_type_name, merged)
            written: list[str] = []
            try:
                replaced = [p for p in job.parameters if p.name in values]
                for old in replaced:
                    job.parameters.remove(old)
                session.flush()
                before = {p.value for p in job.parameters if p.is_file}
                self._store_params(job, values)
                written = [p.value for p in job.parameters if p.is_file and p.value not in before]
                session.flush()
            except BaseException:
                for relative in written:
                    self.storage.resolve(job.id, relative).unlink(missing_ok=True)
                raise
            kept = {p.value for p in job.parameters if p.is_file}
            stale = [p.value for p in replaced if p.is_file and p.value not in kept]
        # committed: the files of replaced file parameters are no longer anybody's
        for relative in stale:
            self.storage.resolve(job.id, relative).unlink(missing_ok=True)

    def apply_control(self, identity: Identity, type_name: str, job_id: str,
                      params: Sequence[tuple[str, str]],
                      uploads: Mapping[str, Sequence[Upload]]) -> str:
        """Handle a POST to the job URL: ACTION=DELETE, PHASE=RUN|ABORT, durations, parameters.

        Returns ``"deleted"`` when the job was destroyed, else ``"job"``.
        """
        control, job_params = split_control(params)
        action = single(control, "ACTION")
        if action is not None:
            if action.strip().upper() != "DELETE":
                raise InvalidParameter(f"ACTION: only DELETE is supported, got {action!r}")
            self.delete(identity, type_name, job_id)
            return "deleted"
        if job_params or uploads:
            self.update_parameters(identity, type_name, job_id, job_params, uploads)
        if (text := single(control, "EXECUTIONDURATION")) is not None:
            self.set_execution_duration(identity, type_name, job_id, text)
        if (text := single(control, "DESTRUCTION")) is not None:
            self.set_destruction(identity, type_name, job_id, text)
        if (phase := single(control, "PHASE")) is not None:
            self.change_phase(identity, type_name, job_id, phase)
        if not (job_params or uploads or control):
            self.get(identity, type_name, job_id)  # 404 for an unknown job even when empty
        return "job"

    def change_phase(self, identity: Identity, type_name: str, job_id: str, value: str) -> None:
        """``PHASE=RUN`` or ``PHASE=ABORT`` (any case); anything else is a 400."""
        wanted = value.strip().upper()
        if wanted == "RUN":
            self.run(identity, type_name, job_id)
        elif wanted == "ABORT":
            self.abort(identity, type_name, job_id)
        else:
            raise InvalidParameter(f"PHASE: expected RUN or ABORT, got {value!r}")
