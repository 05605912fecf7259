"""The UWS job service: create, read, list, change and destroy jobs.

Every method takes the acting :class:`~uws_server.identity.Identity` and
owns its transaction: a rejected request writes nothing and leaves no file
behind. Phases change only through :func:`~uws_server.services.transitions.transition`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..auth import policy
from ..auth.permissions import Permission
from ..config import Settings
from ..db import Database, mark_changed
from ..errors import (
    InvalidParameter,
    JobNotFound,
    PermissionDenied,
    UnknownJobType,
    WrongPhase,
)
from ..identity import Identity
from ..jobtypes import service as jobtypes
from ..models import Job, JobGrant, JobParameter
from ..phases import ACTIVE, FINISHED, ExecutionPhase
from ..storage import JobStorage
from ..timeutil import utcnow
from ..urlguard import url_policy
from . import history, job_rows, notifications, quotas
from .params import (
    NOTIFICATION_NAMES,
    XML_UNSAFE,
    Upload,
    ValueLimit,
    collect,
    single,
    split_control,
)
from .transitions import transition
from .validators import JobValidators
from .views import JOB_REF_COLUMNS, JobRef, JobView, load_job_view, load_phase, stream_job_list

P = ExecutionPhase
log = logging.getLogger(__name__)
#: Checked parameter values by name (a module-level alias: inside JobService, ``list`` is
#: its method, not the builtin).
ParamValues = job_rows.ParamValues


def _check_may_create(identity: Identity, type_name: str, configuration: Any) -> None:
    """403 unless the caller may create jobs of this type (not read-only, on its lists)."""
    if identity.read_only:
        raise PermissionDenied("anonymous callers may only read: send a token to create jobs")
    if identity.is_admin:
        return
    config = configuration if isinstance(configuration, dict) else {}
    users, groups = config.get("allowed_users"), config.get("allowed_groups")
    if users is None and groups is None:
        return
    if identity.name in (users or ()) or identity.groups & set(groups or ()):
        return
    raise PermissionDenied(f"job type {type_name!r} is restricted to some users and groups; "
                           f"{identity.label} is not one of them")


def _check_access(identity: Identity, found: Any, granted: int | None, type_name: str,
                  job_id: str, needed: Permission = Permission.READ) -> None:
    """404 for a job that is not there or that the caller holds nothing on; 403 for one they
    see but may not do this to (the access policy, :mod:`uws_server.auth.policy`).

    ``found`` is anything with an ``owner_id`` (a job, a view, a row) or ``None``;
    ``granted`` the caller's grant bits on it.
    """
    what = f"job {job_id!r} in job list {type_name!r}"
    if found is None:
        raise JobNotFound(f"no {what}")
    policy.require(identity, found.owner_id, granted, needed, what=what)


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

    def job_type_for(self, type_name: str) -> jobtypes.ResolvedJobType:
        """The job type (version, revision, interface) a new job of ``type_name`` gets now:
        what a submit form is generated from.

        Raises
        ------
        UnknownJobType, JobTypeInactive
        """
        with self.db.read() as session:
            return jobtypes.resolve(session, type_name)

    # -- reading -----------------------------------------------------------------------
    def _load(self, session: Session, identity: Identity, type_name: str, job_id: str,
              *, needed: Permission, for_update: bool = False) -> Job:
        query = select(Job).where(Job.id == job_id, Job.job_type_name == type_name,
                                  Job.deleted.is_(False))
        query = query.options(selectinload(Job.parameters), selectinload(Job.results))
        if for_update and not self.db.is_sqlite:
            query = query.with_for_update(of=Job)
        job = session.scalars(query).one_or_none()
        granted = None
        if job is not None and identity.name is not None and job.owner_id != identity.name:
            granted = session.scalar(select(JobGrant.permission).where(
                JobGrant.job_id == job_id, JobGrant.username == identity.name))
        _check_access(identity, job, granted, type_name, job_id, needed)
        assert job is not None  # _check_access raised otherwise
        return job

    def get(self, identity: Identity, type_name: str, job_id: str) -> JobView:
        """One job with its parameters and results, ready to render (read-only)."""
        view = self.db.reading(
            lambda connection: load_job_view(connection, type_name, job_id, identity.name))
        _check_access(identity, view, view.granted if view else None, type_name, job_id)
        assert view is not None  # _check_access raised otherwise
        return view

    def phase_of(self, identity: Identity, type_name: str, job_id: str) -> ExecutionPhase:
        """Just the phase, cheaply (blocking WAIT re-reads it)."""
        row = self.db.reading(
            lambda connection: load_phase(connection, type_name, job_id, identity.name))
        _check_access(identity, row, row.granted if row else None, type_name, job_id)
        return ExecutionPhase(row.phase)

    def list(
        self, identity: Identity, type_name: str, *, phases: Sequence[ExecutionPhase] = (),
        after: datetime | None = None, last: int | None = None,
    ) -> Iterator[JobRef]:
        """The jobs of a job list the caller may see, newest first (UWS §2.2.2.1).

        ARCHIVED jobs appear only when asked for by ``phases``. Filters are
        ANDed; ``last`` keeps the newest ``last`` of what matches. The views
        come as they are read, in chunks (:func:`.views.stream_job_list`), so
        that a whole list is rendered and sent in bounded memory.
        """
        query = select(*JOB_REF_COLUMNS).where(Job.job_type_name == type_name,
                                                Job.deleted.is_(False))
        if phases:
            query = query.where(Job.phase.in_([p.value for p in phases]))
        else:
            query = query.where(Job.phase != P.ARCHIVED.value)
        if after is not None:
            query = query.where(Job.creation_time > after)
        query = query.where(policy.readable(identity))
        return stream_job_list(self.db.engine, query, last=last)

    # -- creating ------------------------------------------------------------------------
    def create(
        self, identity: Identity, type_name: str, params: Sequence[tuple[str, str]],
        uploads: Mapping[str, Sequence[Upload]], *, base_url: str | None = None,
        on_create: Callable[[Session, Job], None] | None = None,
    ) -> Job:
        """Create a PENDING job (QUEUED with ``PHASE=RUN``) from a client's request.

        ``NOTIFICATION.URL`` (with ``.EVENT``, ``.PERSISTENT``) subscribes a webhook
        (:func:`.notifications.from_uws_control`); ``base_url`` is the service's URL as the
        client sees it, for the job URL the notifications carry. ``on_create`` runs in the
        creating transaction, after the job row is written (a front door's links, history
        entries and subscriptions: all or nothing with the job).

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
        if run_id is not None and XML_UNSAFE.search(run_id):
            raise InvalidParameter("RUNID: holds a character XML cannot carry (a control "
                                   "character, U+FFFE or U+FFFF)")
        if single(control, "ACTION") is not None:
            raise InvalidParameter("ACTION: not allowed when creating a job")
        version = single(control, "VERSION")
        subscriptions = notifications.from_uws_control(control, settings=self.settings)
        now = utcnow()
        # Validate and store files before taking the write lock (SQLite has one writer).
        with self.db.read() as session:
            resolved = jobtypes.resolve(session, type_name, version)
        _check_may_create(identity, resolved.job_type.name, resolved.job_type.configuration)
        values = collect(resolved.interface, job_params, uploads,
                         allow_urls=self.settings.allow_url_inputs, require_all=True,
                         url_policy=url_policy(self.settings),
                         limit=ValueLimit.of(self.settings.max_parameter_chars,
                                             resolved.job_type.configuration))
        self.validators.check(self.settings, resolved.job_type.name,
                              {name: [e.value for e in entries]
                               for name, entries in values.items()})
        duration = job_rows.execution_duration(self.settings, single(control, "EXECUTIONDURATION"),
                                          resolved.interface)
        destruction = now + timedelta(seconds=self.settings.default_lifetime)
        if (text := single(control, "DESTRUCTION")) is not None:
            destruction = job_rows.destruction_time(self.settings, text, now)
        job = Job(
            id=uuid.uuid4().hex, job_type_name=resolved.job_type.name,
            revision_id=resolved.revision.id, owner_id=identity.name, run_id=run_id,
            phase=P.PENDING.value, creation_time=now, destruction_time=destruction,
            execution_duration=duration,
            priority=int((resolved.job_type.configuration or {}).get("priority", 0) or 0),
            job_info={}, tries=0, cancel_requested=False, duration_exceeded=False,
            duration_dirty=False, release_requested=False, deleted=False,
            notify=bool(subscriptions),
        )
        self.storage.create(job.id)
        try:
            parameters = job_rows.parameter_rows(self.storage, self.settings, job.id, values, 0)
            job.upload_bytes = job_rows.upload_bytes(self.storage, job.id, parameters)
            with self.db.write() as session:
                quotas.check_new_jobs(session, self.settings, identity,
                                      upload_bytes=job.upload_bytes, starting=phase is not None)
                job_rows.insert_new_job(session, job, parameters)
                notifications.subscribe(
                    session, job, subscriptions,
                    job_url=f"{base_url}/uws/{type_name}/{job.id}" if base_url else None)
                if on_create is not None:
                    on_create(session, job)
                if phase is not None:
                    transition(session, job, P.QUEUED, actor=identity.label, note="PHASE=RUN")
        except BaseException:
            self.storage.remove(job.id)
            raise
        log.info("created job %s (%s) for %s", job.id, type_name, identity.label)
        return job

    # -- changing ------------------------------------------------------------------------
    # Each public method is one transaction. The checks and changes live in the private
    # ``_check_*``/``_apply_*`` helpers, on a job already loaded for update, so that a POST
    # carrying several of them (apply_control) makes them all or none in one transaction.
    def run(self, identity: Identity, type_name: str, job_id: str) -> None:
        """``PHASE=RUN``: queue a PENDING (or re-queue a HELD) job; no-op if already going."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, needed=Permission.EXECUTE,
                             for_update=True)
            self._apply_run(session, identity, job)

    def abort(self, identity: Identity, type_name: str, job_id: str) -> None:
        """``PHASE=ABORT``: stop the job now; finished jobs are left as they are."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, needed=Permission.EXECUTE,
                             for_update=True)
            self._apply_abort(session, identity, job)

    def _apply_run(self, session: Session, identity: Identity, job: Job) -> None:
        phase = P(job.phase)
        if phase is P.PENDING:
            quotas.check_start(session, self.settings, identity
                               if identity.name == job.owner_id else job.owner_id)
            transition(session, job, P.QUEUED, actor=identity.label, note="PHASE=RUN")
        elif phase is P.HELD:
            job.release_requested = True
            transition(session, job, P.QUEUED, actor=identity.label, note="PHASE=RUN (release)")
        elif phase not in (P.QUEUED, P.EXECUTING, P.SUSPENDED, P.UNKNOWN):
            raise WrongPhase(f"cannot run job {job.id}: it is {phase}")

    def _apply_abort(self, session: Session, identity: Identity, job: Job) -> None:
        phase = P(job.phase)
        if phase is P.ARCHIVED:
            raise WrongPhase(f"cannot abort job {job.id}: it is ARCHIVED")
        if phase in FINISHED:
            return
        if job.backend_id is not None or job.submit_token is not None:
            job.cancel_requested = True
        transition(session, job, P.ABORTED, actor=identity.label, note="PHASE=ABORT",
                   error_type="fatal", error_message="aborted by " + identity.label)

    def delete(self, identity: Identity, type_name: str, job_id: str, *,
               abort_first: bool = False) -> JobView | None:
        """Destroy a job: it is gone for clients at once; the dispatcher stops it and frees
        its files. Needs WRITE (destroying a running job stops it).

        With ``abort_first`` a job still going is first ABORTED in the same transaction
        (its history says so) and the job as it was last is returned (OCPS answers it).
        """
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, needed=Permission.WRITE,
                             for_update=True)
            last = None
            if abort_first:
                if P(job.phase) in ACTIVE or P(job.phase) is P.PENDING:
                    self._apply_abort(session, identity, job)
                    session.flush()
                last = load_job_view(session.connection(), type_name, job_id, identity.name)
            job.deleted = True
            if P(job.phase) in ACTIVE and (job.backend_id or job.submit_token):
                job.cancel_requested = True
            mark_changed(session, job.id)
        return last

    def set_execution_duration(self, identity: Identity, type_name: str, job_id: str,
                               text: str) -> None:
        """Set the execution duration (clamped); refused once the job has finished."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, needed=Permission.WRITE,
                             for_update=True)
            self._apply_duration(session, job, self._check_duration(job, text))

    def _check_duration(self, job: Job, text: str) -> int:
        if P(job.phase) in FINISHED:
            raise WrongPhase(f"cannot change the execution duration of job {job.id}: "
                             f"it is {job.phase}")
        return job_rows.execution_duration(self.settings, text, jobtypes.interface_of(job.revision))

    def _apply_duration(self, session: Session, job: Job, seconds: int) -> None:
        job.execution_duration = seconds
        if job.backend_id is not None:
            job.duration_dirty = True
        mark_changed(session, job.id)

    def set_destruction(self, identity: Identity, type_name: str, job_id: str, text: str) -> None:
        """Set the destruction time (clamped to the longest lifetime allowed)."""
        with self.db.write() as session:
            job = self._load(session, identity, type_name, job_id, needed=Permission.WRITE,
                             for_update=True)
            job.destruction_time = self._check_destruction(job, text)

    def _check_destruction(self, job: Job, text: str) -> datetime:
        if P(job.phase) is P.ARCHIVED:
            raise WrongPhase(f"cannot change the destruction time of job {job.id}: "
                             "it is ARCHIVED")
        return job_rows.destruction_time(self.settings, text, job.creation_time)

    def update_parameters(
        self, identity: Identity, type_name: str, job_id: str,
        params: Sequence[tuple[str, str]], uploads: Mapping[str, Sequence[Upload]],
    ) -> None:
        """Replace the values of the parameters named, while the job is PENDING."""
        files = job_rows.FileChanges()
        try:
            with self.db.write() as session:
                job = self._load(session, identity, type_name, job_id, needed=Permission.WRITE,
                                 for_update=True)
                values = self._check_parameters(job, params, uploads)
                self._apply_parameters(session, job, values, files, actor=identity.label)
        except BaseException:
            files.undo(self.storage, job_id)
            raise
        files.commit(self.storage, job_id)

    def _check_parameters(self, job: Job, params: Sequence[tuple[str, str]],
                          uploads: Mapping[str, Sequence[Upload]]) -> ParamValues:
        """The checked new values (nothing written yet); 403 unless the job is PENDING."""
        if P(job.phase) is not P.PENDING:
            raise WrongPhase(f"cannot change parameters of job {job.id}: it is {job.phase}, "
                             "not PENDING")
        values = collect(jobtypes.interface_of(job.revision), params, uploads,
                         allow_urls=self.settings.allow_url_inputs, require_all=False,
                         url_policy=url_policy(self.settings),
                         limit=ValueLimit.of(self.settings.max_parameter_chars,
                                             job.revision.job_type.configuration))
        merged = {p.name: [p.value] for p in job.parameters}
        merged.update({name: [e.value for e in entries] for name, entries in values.items()})
        self.validators.check(self.settings, job.job_type_name, merged)
        return values

    def _apply_parameters(self, session: Session, job: Job, values: ParamValues,
                          files: job_rows.FileChanges, *, actor: str) -> None:
        """Replace the rows (and files) of the parameters in ``values`` and say so in the
        job's history; an upload over the limit still raises PayloadTooLarge here (its file
        is in ``files.written``)."""
        history.record(session, job, "parameters", actor=actor,
                       note="changed " + ", ".join(sorted(values)))
        replaced = [p for p in job.parameters if p.name in values]
        for old in replaced:
            job.parameters.remove(old)
        session.flush()
        written = job_rows.parameter_rows(self.storage, self.settings, job.id, values,
                                      len(job.parameters), files.written)
        job.parameters.extend(JobParameter(**row) for row in written)
        session.flush()
        kept = {p.value for p in job.parameters if p.is_file}
        files.stale += [p.value for p in replaced if p.is_file and p.value not in kept]

    def apply_control(self, identity: Identity, type_name: str, job_id: str,
                      params: Sequence[tuple[str, str]],
                      uploads: Mapping[str, Sequence[Upload]]) -> str:
        """Handle a POST to the job URL: ACTION=DELETE, PHASE=RUN|ABORT, durations, parameters.

        All or nothing: every value is checked, then every change made, in one
        transaction; any refusal (a bad ``EXECUTIONDURATION`` beside a new
        ``message``...) leaves the job as it was and no uploaded file behind.
        Returns ``"deleted"`` when the job was destroyed, else ``"job"``.
        """
        control, job_params = split_control(params)
        if given := sorted(NOTIFICATION_NAMES & set(control)):
            raise InvalidParameter(f"{given[0]}: a webhook is subscribed when the job is "
                                   "created, not later")
        action = single(control, "ACTION")
        if action is not None:
            if action.strip().upper() != "DELETE":
                raise InvalidParameter(f"ACTION: only DELETE is supported, got {action!r}")
            self.delete(identity, type_name, job_id)
            return "deleted"
        if not (job_params or uploads or control):
            self.get(identity, type_name, job_id)  # 404 for an unknown job even when empty
            return "job"
        phase = single(control, "PHASE")
        wanted = _phase_request(phase) if phase is not None else None
        duration_text = single(control, "EXECUTIONDURATION")
        destruction_text = single(control, "DESTRUCTION")
        needed = Permission.NONE
        if wanted is not None:
            needed |= Permission.EXECUTE
        if job_params or uploads or duration_text is not None or destruction_text is not None:
            needed |= Permission.WRITE
        files = job_rows.FileChanges()
        try:
            with self.db.write() as session:
                job = self._load(session, identity, type_name, job_id, needed=needed,
                                 for_update=True)
                values = self._check_parameters(job, job_params, uploads) \
                    if job_params or uploads else None
                duration = self._check_duration(job, duration_text) \
                    if duration_text is not None else None
                destruction = self._check_destruction(job, destruction_text) \
                    if destruction_text is not None else None
                if values is not None:
                    self._apply_parameters(session, job, values, files,
                                           actor=identity.label)
                if duration is not None:
                    self._apply_duration(session, job, duration)
                if destruction is not None:
                    job.destruction_time = destruction
                if wanted == "RUN":
                    self._apply_run(session, identity, job)
                elif wanted == "ABORT":
                    self._apply_abort(session, identity, job)
        except BaseException:
            files.undo(self.storage, job_id)
            raise
        files.commit(self.storage, job_id)
        return "job"

    def change_phase(self, identity: Identity, type_name: str, job_id: str, value: str) -> None:
        """``PHASE=RUN`` or ``PHASE=ABORT`` (any case); anything else is a 400."""
        if _phase_request(value) == "RUN":
            self.run(identity, type_name, job_id)
        else:
            self.abort(identity, type_name, job_id)


def _phase_request(value: str) -> str:
    """``"RUN"`` or ``"ABORT"`` from a client's ``PHASE`` (any case); 400 otherwise."""
    wanted = value.strip().upper()
    if wanted not in ("RUN", "ABORT"):
        raise InvalidParameter(f"PHASE: expected RUN or ABORT, got {value!r}")
    return wanted
