"""Submitting queued jobs: stage, claim, fence, submit, record.

For each queued job, by priority and within the backend's free slots:

1. inputs by URL not on disk yet: hand the job to the :class:`~.staging.Stager`
   and move on (it takes no slot; the stager wakes the dispatcher when done);
2. claim it: in one transaction that checks the lease epoch, build its spec and
   commit a fresh submit token (so a crash from here on is recovered by token);
3. fence: check and extend the lease right before the backend call, so that a
   holder that was paused past its lease never reaches the backend;
4. submit, then record the backend id.

Whatever goes wrong with one job (its inputs, its spec, its backend call) ends
or skips that job only: the loop goes on with the next.

Executors that :attr:`~uws_server.executors.base.Executor.supports_bulk_submit`
get the same steps for a whole slice of jobs at once (:mod:`.bulk`). Each job
takes :meth:`~uws_server.executors.base.Executor.slots_needed` of the free
slots (the local executor counts cores); one that needs more than are free
waits, untouched.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from ..executors.base import ExecutorError, JobSpec
from ..jobtypes import service as jobtypes
from ..metrics import SUBMISSIONS
from ..models import Job, JobType, JobTypeRevision
from ..phases import ACTIVE, ExecutionPhase
from ..services.transitions import transition
from ..urlguard import url_policy
from .budget import Budget, LeaseLost, PreparationError, preparation_message
from .bulk import BulkSubmitter
from .spec import build_spec
from .staging import PendingInput, Stager, fetch_input

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

P = ExecutionPhase
log = logging.getLogger(__name__)
#: Queued jobs not yet handed over nor being handed over: what :meth:`Submitter.submit_queued`
#: submits (the dispatcher's look at the flags tells it whether there are any).
WAITING_FOR_SUBMISSION = (Job.deleted.is_(False), Job.phase == P.QUEUED.value,
                          Job.backend_id.is_(None), Job.submit_token.is_(None))
ACTOR = "dispatcher"


class Submitter:
    """The submission step of one dispatcher (the executor is read from it at each use).

    Attributes
    ----------
    bulk_key_columns
        Extra columns of :class:`~uws_server.models.Job` that split bulk
        submissions: the batch id, so that one backend array or cluster holds
        one batch only (a batch abort is then one ``scancel``/``condor_rm`` of
        it). Besides, jobs queued together of one job type and revision and with
        one resource request go together.
    """

    bulk_key_columns: tuple[Any, ...] = (Job.batch_id,)

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.d = dispatcher
        self._room: int | None = None
        self.bulk = BulkSubmitter(self)
        settings = dispatcher.settings
        fetch = functools.partial(fetch_input, policy=url_policy(settings),
                                  timeout=settings.fetch_timeout,
                                  max_bytes=settings.fetch_max_bytes)
        self.stager = Stager(fetch, settings.fetch_concurrency, dispatcher.kick)

    def submit_queued(self) -> None:
        """Hand queued jobs to the executor, by priority, within its free slots and caps."""
        self._end_failed_stagings()
        db = self.d.c.db
        waiting = list(WAITING_FOR_SUBMISSION)
        busy = self.stager.busy()
        if not busy and not self.d.is_due("submit_queued"):
            return  # this tick's look at the flags found no queued job
        if busy:
            waiting.append(Job.id.not_in(busy))
        with db.read() as session:
            if session.scalars(select(Job.id).where(*waiting).limit(1)).first() is None:
                return  # nothing to submit: do not ask the backend for free slots
        slots = self.d.executor.free_slots()
        if slots <= 0:
            return
        with db.read() as session:
            # Running jobs per job type (name and version): max_scheduled is per version.
            running = dict(session.execute(
                select(JobTypeRevision.job_type_id, func.count())
                .join(Job, Job.revision_id == JobTypeRevision.id)
                .where(Job.deleted.is_(False), Job.backend_id.is_not(None),
                       Job.phase.in_([p.value for p in ACTIVE]))
                .group_by(JobTypeRevision.job_type_id)).all())
            caps = dict(session.execute(
                select(JobType.id, JobType.max_scheduled)
                .where(JobType.max_scheduled.is_not(None))).all())
            full = [type_id for type_id, cap in caps.items()
                    if cap is not None and running.get(type_id, 0) >= cap]
            rows = session.execute(
                select(Job.id, JobType.id, Job.revision_id, *self.bulk_key_columns)
                .join(JobTypeRevision, Job.revision_id == JobTypeRevision.id)
                .join(JobType, JobTypeRevision.job_type_id == JobType.id)
                .where(*waiting, JobType.is_paused.is_(False), JobType.id.not_in(full))
                .order_by(Job.priority.desc(), Job.creation_time)
                .limit(max(slots * 4, 50))).all()
        budget = Budget(slots, running, caps)
        try:
            if self.d.executor.supports_bulk_submit:
                self.bulk.submit_rows([tuple(row) for row in rows], budget)
            else:
                self._submit_rows(rows, budget)
        except LeaseLost:
            log.warning("dispatcher %s lost the lease mid-tick: submitting nothing more",
                        self.d.lease.holder)

    def _submit_rows(self, rows: Sequence[Any], budget: Budget) -> None:
        """One job at a time, by priority, while slots and caps allow."""
        for job_id, type_id, *_ in rows:
            if budget.slots <= 0:
                break
            if budget.room(type_id) <= 0:
                continue
            self.submit_counted(job_id, type_id, budget)

    def submit_counted(self, job_id: str, type_id: int, budget: Budget) -> None:
        """:meth:`submit_one` within ``budget``, charged for what the job took.

        Raises :class:`LeaseLost`; any other failure is logged and ends this job only.
        """
        try:
            took = self.submit_one(job_id, room=budget.slots)
        except LeaseLost:
            raise
        except Exception:
            log.exception("job %s: submission failed; the other jobs go on", job_id,
                          extra={"job_id": job_id, "executor": self.d.executor.name})
            return
        if took:
            budget.charge(type_id, jobs=1, slots=took)

    def submit_one(self, job_id: str, room: int | None = None) -> int:
        """Stage, claim, fence and submit one job; the backend slots it took (0: none).

        ``room`` is how many slots are free: a job that needs more (a local job
        asking for more cores than are idle) is left queued, nothing written.
        """
        token = uuid.uuid4().hex
        self._room = room
        try:
            claimed = self._claim(job_id, token)
        except PreparationError as exc:
            log.warning("job %s: %s", job_id, exc, extra={"job_id": job_id})
            self._fail(job_id, str(exc))
            return 0
        finally:
            self._room = None
        if claimed is None:
            return 0
        if isinstance(claimed, list):
            self.stager.stage(job_id, claimed)
            return 0
        need = self.d.executor.slots_needed(claimed)
        return need if self._submit(job_id, claimed, token) else 0

    # -- the steps ---------------------------------------------------------------------
    def _claim(self, job_id: str, token: str) -> JobSpec | list[PendingInput] | None:
        """Commit the job as submitting (token, tries) and return its spec.

        Returns the inputs still to fetch instead (nothing written), or None
        when the job is no longer waiting. Raises :class:`LeaseLost` when the
        lease is not ours at our epoch, :class:`PreparationError` when the
        job's spec cannot be built (nothing written either).
        """
        with self.d.c.db.write() as session:
            if not self.d.lease.check(session):
                raise LeaseLost
            job = session.get(Job, job_id, options=[selectinload(Job.parameters)])
            if (job is None or job.deleted or job.phase != P.QUEUED.value
                    or job.submit_token is not None or job.backend_id is not None):
                return None
            try:
                pending = self.pending_inputs(job)
                if pending:
                    return pending
                spec = self.spec_of(job)
                need = self.d.executor.slots_needed(spec)
            except SQLAlchemyError:
                raise  # the database (or a lost session), not the job: nothing is ended
            except Exception as exc:  # the job's data, not the database: this job only
                raise PreparationError(preparation_message(exc)) from exc
            if self._room is not None and need > self._room:
                return None  # not enough free slots now: it waits, nothing written
            job.submit_token = token
            job.executor = self.d.executor.name
            job.tries += 1
        return dataclasses.replace(spec, attempt=job.tries)

    def pending_inputs(self, job: Job) -> list[PendingInput]:
        """The job's inputs by URL not fetched yet (its spec waits for them)."""
        storage = self.d.c.storage
        return [PendingInput(param.name, param.source_url,
                             storage.resolve(job.id, param.value), storage.job_dir(job.id))
                for param in job.parameters if param.is_file and param.source_url
                and not storage.resolve(job.id, param.value).is_file()]

    def spec_of(self, job: Job) -> JobSpec:
        """The job's :class:`JobSpec` (attempt not set); raises on bad job data."""
        interface = jobtypes.interface_of(job.revision)
        return build_spec(self.d.c.storage, job, job.revision.job_type, interface,
                          service=self.d.settings.service_name,
                          filesystems=self.d.settings.filesystems)

    def _submit(self, job_id: str, spec: JobSpec, token: str) -> bool:
        if not self.d.lease.confirm():
            raise LeaseLost  # the successor recovers the token we committed
        try:
            submission = self.d.executor.submit(spec, token)
        except ExecutorError as exc:
            if exc.transient:
                SUBMISSIONS.labels(self.d.executor.name, "retry").inc()
                self.d.backend.failed("submit")
                log.warning("job %s: submission failed (%s); will retry", job_id, exc,
                            extra={"job_id": job_id, "executor": self.d.executor.name})
                return False
            SUBMISSIONS.labels(self.d.executor.name, "refused").inc()
            log.warning("job %s: %s refused the submission (%s): ERROR", job_id,
                        self.d.executor.name, exc,
                        extra={"job_id": job_id, "executor": self.d.executor.name})
            self._fail(job_id, f"cannot submit: {exc}", token=token)
            return False
        SUBMISSIONS.labels(self.d.executor.name, "submitted").inc()
        self.d.backend.answered()
        with self.d.c.db.write() as session:
            self.d.lease.bound_pause(session)
            job = session.get(Job, job_id)
            if job is not None and job.submit_token == token:
                job.backend_id = submission.backend_id
            elif job is not None:
                log.error("job %s: submitted as %s, but its submission was taken over "
                          "meanwhile (token changed)", job_id, submission.backend_id,
                          extra={"job_id": job_id, "backend_id": submission.backend_id})
        log.info("job %s submitted to %s as %s", job_id, self.d.executor.name,
                 submission.backend_id,
                 extra={"job_id": job_id, "backend_id": submission.backend_id})
        return True

    def _fail(self, job_id: str, message: str, *, token: str | None = None) -> None:
        """End a job that cannot run in ERROR, if it still waits (and, given, holds ``token``).

        Only while the lease is ours: a holder that lost it (paused, its session
        ended) leaves the job to its successor.
        """
        with self.d.c.db.write() as session:
            if not self.d.lease.check(session):
                log.warning("job %s: not ended (%s): the lease is no longer ours", job_id,
                            message, extra={"job_id": job_id})
                return
            job = session.get(Job, job_id)
            if (job is None or job.deleted or job.phase != P.QUEUED.value
                    or job.backend_id is not None or job.submit_token != token):
                return
            job.submit_token = None
            transition(session, job, P.ERROR, actor=ACTOR, note=message,
                       error_type="fatal", error_message=message)

    def _end_failed_stagings(self) -> None:
        for job_id, message in self.stager.take_failures().items():
            log.warning("job %s: %s", job_id, message, extra={"job_id": job_id})
            try:
                self._fail(job_id, message)
            except Exception:
                log.exception("job %s: could not record its failed input", job_id)

    def close(self) -> None:
        """Stop the fetch threads (each ends within its deadline)."""
        self.stager.close()
